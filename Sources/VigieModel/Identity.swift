/// The roles a person's certificate can carry.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    case teacher, librarian, head, admin
    /// The school's IT staff: helps a person at a seat with their consent
    /// (`assist`), in the rooms its grants name; nothing by default.
    case technician

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
}

/// Who a certificate names. Every identity carries the school id (UAI), so that
/// seat `B204-02` of one school never collides with another school's.
///
/// The canonical, machine-readable form is a URI placed in the certificate's
/// subjectAltName (see `docs/PKI.md`):
/// - `vigie://<school>/seat/<seat-id>`
/// - `vigie://<school>/server/<name>`
/// - `vigie://<school>/person/<role>/<login>`
public struct Identity: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable, Codable {
        case seat(id: String)
        case server(name: String)
        case person(login: String, role: Role)
    }

    /// The school's id (for French schools, the UAI, e.g. `0750001A`).
    public var schoolID: String
    public var kind: Kind
    /// A human-readable name: the person's name (`Mme Martin`), the seat id or the server name.
    public var displayName: String

    public init(schoolID: String, kind: Kind, displayName: String) {
        self.schoolID = schoolID
        self.kind = kind
        self.displayName = displayName
    }

    /// The URI stored in the certificate's subjectAltName.
    public var uri: String {
        switch kind {
        case .seat(let id): return "vigie://\(schoolID)/seat/\(id)"
        case .server(let name): return "vigie://\(schoolID)/server/\(name)"
        case .person(let login, let role): return "vigie://\(schoolID)/person/\(role.rawValue)/\(login)"
        }
    }

    /// Parses a `vigie://` URI; returns nil for anything else.
    public static func parse(uri: String, displayName: String) -> Identity? {
        let prefix = "vigie://"
        guard uri.hasPrefix(prefix) else { return nil }
        let parts = uri.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, Identity.isValidToken(parts[0]) else { return nil }
        let school = parts[0]
        switch (parts[1], parts.count) {
        case ("seat", 3) where Identity.isValidToken(parts[2]):
            return Identity(schoolID: school, kind: .seat(id: parts[2]), displayName: displayName)
        case ("server", 3) where Identity.isValidToken(parts[2]):
            return Identity(schoolID: school, kind: .server(name: parts[2]), displayName: displayName)
        case ("person", 4):
            guard let role = Role(rawValue: parts[2]), Identity.isValidToken(parts[3]) else { return nil }
            return Identity(schoolID: school, kind: .person(login: parts[3], role: role), displayName: displayName)
        default:
            return nil
        }
    }

    /// Ids, logins and school ids: ASCII letters, digits, `-`, `_` and `.`, 1 to 64 characters.
    public static func isValidToken(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 64 else { return false }
        return s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == 0x2D || c == 0x5F || c == 0x2E
        }
    }

    public var role: Role? {
        if case .person(_, let role) = kind { return role }
        return nil
    }

    public var seatID: String? {
        if case .seat(let id) = kind { return id }
        return nil
    }

    public var login: String? {
        if case .person(let login, _) = kind { return login }
        return nil
    }

    public var description: String { "\(displayName) <\(uri)>" }
}
