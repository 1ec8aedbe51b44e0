import ArgumentParser
import Foundation
import VigieCLI
import VigieConsole
import VigieModel
import VigiePKI

/// `vigie pki …`: the school CA, issuing certificates, and showing them.
struct PKICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pki",
        abstract: "Create the school CA, issue certificates for seats, the server and people, show them.",
        discussion: """
            Examples:
              vigie pki init --out /etc/vigie/ca --school-id 0750001A --school-name "Lycée Exemple"
              vigie pki issue --ca /etc/vigie/ca --out ids/B204-02 --seat B204-02 --ip 10.2.4.12
              vigie pki issue --ca /etc/vigie/ca --out ids/mmartin --person "Mme Martin" --login mmartin --role teacher
              vigie pki show ids/mmartin
            """,
        subcommands: [PKIInit.self, PKIIssue.self, PKIShow.self, Forward.EnrollToken.self]
    )
}

/// The directory part of a path, "." for a bare name (plain string work:
/// NSString's path methods crash on some short relative paths on Linux).
private func directoryOf(_ path: String) -> String {
    var p = Substring(path)
    while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
    guard let slash = p.lastIndex(of: "/") else { return "." }
    return slash == p.startIndex ? "/" : String(p[..<slash])
}

private func joined(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

private func iso(_ date: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: date)
}

private func days(until date: Date, from now: Date = Date()) -> String {
    let d = Int((date.timeIntervalSince(now) / 86_400).rounded(.down))
    if date < now { return "expired \(-d) day(s) ago" }
    return "\(d) day(s) left"
}

/// `vigie pki init`: creates the school CA.
struct PKIInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the school's certificate authority (ca.pem and ca-key.pem in --out).")

    @Option(name: .long, help: ArgumentHelp("Directory to create the CA in; must not already hold one.", valueName: "dir"))
    var out: String

    @Option(name: .customLong("school-id"), help: ArgumentHelp("The school id (UAI), e.g. 0750001A.", valueName: "id"))
    var schoolID: String

    @Option(name: .customLong("school-name"), help: ArgumentHelp("The school's name, e.g. \"Lycée Exemple\".", valueName: "name"))
    var schoolName: String

    @Option(name: .long, help: ArgumentHelp("Validity of the CA in days (default: 3650).", valueName: "n"))
    var days: Int = CertificateLayout.defaultCADays

    func run() throws {
        let ca = try SchoolCA.create(schoolID: schoolID, schoolName: schoolName, validityDays: days)
        let written = try ca.save(to: out)
        print("Created the Vigie CA of \(ca.schoolName) (\(ca.schoolID)).")
        for path in written { print("  wrote \(path)") }
        print("  serial    \(ca.serialHex)")
        print("  valid to  \(iso(ca.notAfter))")
        print("Keep \(SchoolCA.keyFileName) offline or readable by the IT admin only; copy \(SchoolCA.certificateFileName) wherever Vigie runs.")
    }
}

/// `vigie pki issue`: issues a certificate for a seat, the server or a person.
struct PKIIssue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Issue a certificate for a seat, the server or a person (cert.pem, key.pem, ca.pem in --out).",
        discussion: "The school id comes from the CA. The printed serial is what goes into the config's revocation list.")

    @Option(name: .long, help: ArgumentHelp("The CA directory made by `vigie pki init`.", valueName: "dir"))
    var ca: String

    @Option(name: .long, help: ArgumentHelp("Directory to write cert.pem, key.pem and ca.pem into.", valueName: "dir"))
    var out: String

    @Option(name: .long, help: ArgumentHelp("Issue for the seat with this id (e.g. B204-02).", valueName: "id"))
    var seat: String?

    @Option(name: .customLong("ip"), help: ArgumentHelp("An IP address of the seat or server (repeatable).", valueName: "addr"))
    var ipAddresses: [String] = []

    @Option(name: .long, help: ArgumentHelp("Issue for the school server with this name.", valueName: "name"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("Issue for a person with this display name (e.g. \"Mme Martin\").", valueName: "name"))
    var person: String?

    @Option(name: .long, help: ArgumentHelp("The person's login (with --person).", valueName: "login"))
    var login: String?

    @Option(
        name: .long,
        help: ArgumentHelp("The person's role (with --person): \(Role.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "role"))
    var role: String?

    @Option(name: .long, help: ArgumentHelp("Validity in days (default: 400 for people, 1825 for seats and the server).", valueName: "n"))
    var days: Int?

    @Flag(name: .long, help: "Replace the files in --out (re-issuing).")
    var force = false

    func validate() throws {
        let chosen = [seat != nil, server != nil, person != nil].filter { $0 }.count
        guard chosen == 1 else {
            throw ValidationError("Give exactly one of --seat ID, --server NAME or --person \"NAME\".")
        }
        if person != nil {
            guard login != nil else { throw ValidationError("--person needs --login LOGIN.") }
            guard let role else { throw ValidationError("--person needs --role (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))") }
            guard Role(rawValue: role) != nil else {
                throw ValidationError("Unknown role \"\(role)\": use one of \(Role.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            guard ipAddresses.isEmpty else { throw ValidationError("--ip is for seats and the server, not for a person.") }
        } else if login != nil || role != nil {
            throw ValidationError("--login and --role go with --person.")
        }
    }

    func run() throws {
        let schoolCA = try SchoolCA.load(from: ca)
        let identity: Identity
        if let seat {
            identity = Identity(schoolID: schoolCA.schoolID, kind: .seat(id: seat), displayName: seat)
        } else if let server {
            identity = Identity(schoolID: schoolCA.schoolID, kind: .server(name: server), displayName: server)
        } else {
            identity = Identity(
                schoolID: schoolCA.schoolID, kind: .person(login: login!, role: Role(rawValue: role!)!),
                displayName: person!)
        }
        let issued = try schoolCA.issue(identity: identity, validityDays: days, ipAddresses: ipAddresses)
        let written = try issued.save(to: out, caCertificatePEM: schoolCA.certificatePEM, overwrite: force)
        print("Issued a certificate for \(identity).")
        for path in written { print("  wrote \(path)") }
        print("  serial    \(issued.serialHex)")
        print("  valid to  \(iso(issued.notAfter))")
        let requested = days ?? CertificateLayout.defaultDays(for: identity.kind)
        if issued.notAfter < Date().addingTimeInterval(TimeInterval(requested) * 86_400 - 3_600) {
            print("  note      shortened to the CA's own expiry (\(iso(schoolCA.notAfter)))")
        }
        print("To revoke it, add its serial to the config's revocation list.")
    }
}

/// `vigie pki show`: describes a certificate and checks it against the `ca.pem` next to it.
struct PKIShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a certificate (a cert.pem/ca.pem file or an identity or CA directory) and check it against the ca.pem next to it.",
        discussion: "Exits with status 1 when the certificate does not verify or its key is unusable.")

    @Argument(help: ArgumentHelp("A PEM certificate file, an identity directory or a CA directory.", valueName: "file-or-dir"))
    var path: String

    func run() async throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PKIError(.fileMissing, path: path, "no such file or directory")
        }
        let directory: String
        let certPath: String
        if isDir.boolValue {
            directory = path
            let leaf = joined(path, IssuedCertificate.certificateFileName)
            certPath = FileManager.default.fileExists(atPath: leaf) ? leaf : joined(path, SchoolCA.certificateFileName)
        } else {
            directory = directoryOf(path)
            certPath = path
        }
        let caPath = joined(directory, SchoolCA.certificateFileName)
        let summary = try CertificateSummary.read(path: certPath)
        var ok = true

        print(certPath)
        if let identity = summary.identity {
            print("  identity   \(identity.displayName)")
            print("  uri        \(identity.uri)")
            switch identity.kind {
            case .seat(let id): print("  kind       seat \(id)")
            case .server(let name): print("  kind       server \(name)")
            case .person(let login, let role):
                print("  kind       person, login \(login)")
                print("  role       \(role.rawValue)")
            }
        } else {
            print("  kind       school CA")
        }
        print("  school     \(summary.schoolName ?? "?") (\(summary.schoolID ?? "?"))")
        print("  serial     \(summary.serialHex)")
        print("  valid      \(iso(summary.notBefore)) → \(iso(summary.notAfter)) (\(days(until: summary.notAfter)))")
        if !summary.extendedKeyUsages.isEmpty {
            print("  usage      \(summary.extendedKeyUsages.joined(separator: ", "))")
        }
        print("  names      \(summary.subjectAltNames.joined(separator: ", "))")
        print("  subject    \(summary.subject)")
        if !summary.isCA { print("  issuer     \(summary.issuer)") }

        let keyPath = joined(
            directoryOf(certPath), summary.isCA ? SchoolCA.keyFileName : IssuedCertificate.keyFileName)
        if FileManager.default.fileExists(atPath: keyPath) {
            do {
                try summary.checkPrivateKey(at: keyPath)
                print("  key        \(keyPath): private, matches")
            } catch {
                print("  key        \(error)")
                ok = false
            }
        } else if !summary.isCA {
            print("  key        none next to it (\(keyPath))")
        }

        if summary.isCA {
            // A CA is its own trust anchor: report whether it is valid now.
            let now = Date()
            if now < summary.notBefore || now > summary.notAfter {
                print("  verifies   no: the CA is not valid now (\(days(until: summary.notAfter)))")
                ok = false
            } else {
                print("  verifies   self-signed school CA, valid now")
            }
        } else if certPath == caPath || !FileManager.default.fileExists(atPath: caPath) {
            print("  verifies   not checked: no \(SchoolCA.certificateFileName) next to it")
        } else {
            let ca = try CertificateSummary.read(path: caPath)
            switch await CertificateChecker.verify(leafDER: summary.der, caDER: ca.der) {
            case .valid:
                print("  verifies   yes, against \(caPath)")
            case .invalid(let reason):
                print("  verifies   NO, against \(caPath): \(reason)")
                ok = false
            }
        }
        if !ok { throw ExitCode.failure }
    }
}
