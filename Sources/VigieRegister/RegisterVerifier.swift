import Crypto
import Foundation
import VigieModel
import VigiePKI
import X509

/// The result of ``RegisterVerifier``: every chain checked, and the first
/// problem of each chain that is not whole.
public struct VerifyReport: Sendable, Codable, Equatable {
    /// What is wrong with a chain.
    public enum Kind: String, Sendable, Codable, Equatable {
        /// An event's content, time or hashes were changed.
        case edited
        /// Events are missing from the middle of a chain (or from its end, when a signature or checkpoint shows it).
        case removed
        /// An event sits at another position than the one it was chained at.
        case reordered
        /// A seat batch signature does not verify (or its certificate is not the seat's / not the school CA's).
        case badSignature
        /// The newest events of a seat chain carry no seat signature: not received from the seat.
        case unsigned
        /// Events a checkpoint saw are no longer there.
        case missingTail
        /// The checkpoint itself is not valid (signature, school).
        case invalidCheckpoint
    }

    /// The first problem of one chain.
    public struct Problem: Sendable, Codable, Equatable, CustomStringConvertible {
        /// The school id.
        public var school: String
        /// The seat id (`@server` for the server's chain).
        public var seat: String
        /// The first event concerned.
        public var seq: Int64
        /// The last event concerned, for a run of missing or unsigned events.
        public var lastSeq: Int64?
        /// What is wrong.
        public var kind: Kind
        /// More detail, in English, for logs.
        public var detail: String

        /// A problem.
        public init(school: String, seat: String, seq: Int64, lastSeq: Int64? = nil, kind: Kind, detail: String) {
            self.school = school
            self.seat = seat
            self.seq = seq
            self.lastSeq = lastSeq
            self.kind = kind
            self.detail = detail
        }

        var range: String {
            guard let lastSeq, lastSeq != seq else { return "\(seq)" }
            return "\(seq)–\(lastSeq)"
        }

        /// One sentence for a person, naming the seat and the first event.
        public func text(_ language: Language) -> String {
            let plural = lastSeq.map { $0 != seq } ?? false
            switch (kind, language) {
            case (.edited, .en):
                return plural ? "one of events \(range) of \(seat) was edited (\(detail))" : "event \(seq) of \(seat) was edited (\(detail))"
            case (.edited, .fr):
                return plural ? "l’un des événements \(range) de \(seat) a été modifié (\(detail))" : "l’événement \(seq) de \(seat) a été modifié (\(detail))"
            case (.removed, .en):
                return plural ? "events \(range) of \(seat) were removed" : "event \(seq) of \(seat) was removed (\(detail))"
            case (.removed, .fr):
                return plural ? "les événements \(range) de \(seat) ont été supprimés" : "l’événement \(seq) de \(seat) a été supprimé (\(detail))"
            case (.reordered, .en): return "event \(seq) of \(seat) is out of order (\(detail))"
            case (.reordered, .fr): return "l’événement \(seq) de \(seat) a été déplacé (\(detail))"
            case (.badSignature, .en): return "the seat signature of \(seat) at event \(seq) is not valid (\(detail))"
            case (.badSignature, .fr): return "la signature du poste \(seat) à l’événement \(seq) n’est pas valide (\(detail))"
            case (.unsigned, .en): return "events \(range) of \(seat) carry no seat signature (not sent by the seat)"
            case (.unsigned, .fr): return "les événements \(range) de \(seat) ne portent pas la signature du poste (non envoyés par le poste)"
            case (.missingTail, .en):
                return plural ? "events \(range) of \(seat) are missing (present at the checkpoint)" : "event \(seq) of \(seat) is missing (present at the checkpoint)"
            case (.missingTail, .fr):
                return plural ? "les événements \(range) de \(seat) manquent (présents au point de contrôle)"
                    : "l’événement \(seq) de \(seat) manque (présent au point de contrôle)"
            case (.invalidCheckpoint, .en): return "the checkpoint is not valid (\(detail))"
            case (.invalidCheckpoint, .fr): return "le point de contrôle n’est pas valide (\(detail))"
            }
        }

        /// The English sentence.
        public var description: String { "\(school)/\(text(.en))" }
    }

    /// What was checked of one chain.
    public struct Chain: Sendable, Codable, Equatable {
        /// The school id.
        public var school: String
        /// The seat id, or `@server`.
        public var seat: String
        /// Events stored.
        public var events: Int64
        /// Of which purged (content removed).
        public var purged: Int64
        /// The last seq stored.
        public var lastSeq: Int64
        /// Whether the chain is whole.
        public var ok: Bool
    }

    /// Every chain checked, sorted by school and seat.
    public var chains: [Chain] = []
    /// The first problem of each chain that is not whole (and checkpoint problems).
    public var problems: [Problem] = []
    /// The checkpoint checked against, if any: school and creation time.
    public var checkpointSchool: String?
    /// The checkpoint's creation time, UTC.
    public var checkpointCreatedUTC: String?
    /// The total number of events checked.
    public var eventsChecked: Int64 = 0
    /// The newest valid checkpoint kept in the store that was checked, UTC.
    public var storedCheckpointUTC: String?
    /// Seats of the config with no event, no batch signature and no checkpoint entry: not shipped yet.
    public var silentSeats: [String] = []

    /// A report (empty: nothing checked yet).
    public init() {}

    /// True when every chain is whole (and the register has only grown since the checkpoint).
    public var ok: Bool { problems.isEmpty }

    /// The report as lines for a terminal.
    public func text(_ language: Language) -> String {
        var lines: [String] = []
        let purged = chains.reduce(0) { $0 + $1.purged }
        if ok {
            switch language {
            case .fr: lines.append("registre intègre : \(chains.count) chaînes, \(eventsChecked) événements (dont \(purged) purgés)")
            case .en: lines.append("register whole: \(chains.count) chains, \(eventsChecked) events (\(purged) purged)")
            }
            if let at = checkpointCreatedUTC {
                lines.append(language == .fr ? "a seulement grandi depuis le point de contrôle du \(at)" : "only grown since the checkpoint of \(at)")
            }
            if let at = storedCheckpointUTC, at != checkpointCreatedUTC {
                lines.append(language == .fr ? "a seulement grandi depuis le dernier point de contrôle signé par le serveur (\(at))"
                                             : "only grown since the server’s latest signed checkpoint (\(at))")
            }
        } else {
            switch language {
            case .fr: lines.append("registre NON intègre : \(problems.count) problème(s) sur \(chains.count) chaînes")
            case .en: lines.append("register NOT whole: \(problems.count) problem(s) in \(chains.count) chains")
            }
            for p in problems { lines.append("  \(p.school) \(p.text(language))") }
        }
        if !silentSeats.isEmpty {
            let list = silentSeats.joined(separator: ", ")
            lines.append(language == .fr ? "postes sans aucun événement reçu (jamais versé) : \(list)" : "seats with no event received (never shipped): \(list)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Proves the register is whole: every chain links from seq 1, every content
/// hashes to its contentHash (purged events have none), every seat batch
/// signature verifies and matches the stored chain, and, against a checkpoint,
/// that nothing the checkpoint saw is gone.
public enum RegisterVerifier {
    /// Verifies every chain of `school` (every school of the store when nil).
    /// With `caCertificate`, seat and checkpoint certificates must also be signed by it.
    ///
    /// Besides the stored chains, it checks every seat of `seats` (the seats of the
    /// config): a seat with stored batch signatures or named by a checkpoint but no
    /// events left was deleted; a seat with no trace at all has not shipped yet and is
    /// listed as silent. It checks the server's own signed checkpoints kept in the
    /// store (for each chain, the newest seq a valid checkpoint saw must still be there
    /// with its hash), and `checkpoint` when given (a copy kept outside the store).
    public static func verify(
        store: any RegisterStore, school: String? = nil, caCertificate: Certificate? = nil, seats: [String] = [], checkpoint: Checkpoint? = nil
    ) -> VerifyReport {
        var report = VerifyReport()
        var schools: [String]
        do {
            schools = try (school ?? checkpoint?.school).map { [$0] } ?? store.schools()
        } catch {
            report.problems.append(.init(school: school ?? "?", seat: "?", seq: 0, kind: .edited, detail: "cannot read the store: \(error)"))
            return report
        }
        if schools.isEmpty, let checkpoint { schools = [checkpoint.school] }
        if let checkpoint {
            report.checkpointSchool = checkpoint.school
            report.checkpointCreatedUTC = checkpoint.createdUTC
        }
        for school in schools {
            var problems: [VerifyReport.Problem] = []
            // Signed claims: the newest (seq, hash) any valid checkpoint saw, per chain.
            var claims: [String: (link: Checkpoint.SeatLink, createdUTC: String)] = [:]
            func claim(_ point: Checkpoint) {
                for link in point.seats where (claims[link.seat]?.link.seq ?? 0) < link.seq {
                    claims[link.seat] = (link, point.createdUTC)
                }
            }
            do {
                for point in try store.checkpoints(school: school) {
                    if point.verifySignature(caCertificate: caCertificate) {
                        claim(point)
                        report.storedCheckpointUTC = max(report.storedCheckpointUTC ?? "", point.createdUTC)
                    } else {
                        problems.append(.init(
                            school: school, seat: "-", seq: 0, kind: .invalidCheckpoint,
                            detail: "the checkpoint of \(point.createdUTC) kept in the store does not verify"))
                    }
                }
            } catch {
                problems.append(.init(school: school, seat: "-", seq: 0, kind: .invalidCheckpoint, detail: "cannot read the checkpoints: \(error)"))
            }
            if let checkpoint, checkpoint.school == school {
                if checkpoint.verifySignature(caCertificate: caCertificate) {
                    claim(checkpoint)
                } else {
                    problems.append(.init(
                        school: school, seat: "-", seq: 0, kind: .invalidCheckpoint,
                        detail: "its signature does not verify with its certificate\(caCertificate == nil ? "" : " or that certificate is not a server's of the school CA")"))
                }
            }
            // Every chain stored, every seat that signed batches, every seat of the config, every chain a checkpoint saw.
            var chainSeats = Set<String>()
            do {
                chainSeats.formUnion(try store.lastLinks(school: school).map(\.seat))
                chainSeats.formUnion(try store.signedSeats(school: school))
            } catch {
                problems.append(.init(school: school, seat: "?", seq: 0, kind: .edited, detail: "cannot read the store: \(error)"))
            }
            chainSeats.formUnion(seats)
            chainSeats.formUnion(claims.keys)
            for seat in chainSeats.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let (chain, problem, count) = verifyChain(store: store, school: school, seat: seat, caCertificate: caCertificate)
                report.eventsChecked += count
                var first = problem
                if let claimed = claims[seat],
                    let missing = checkClaim(store: store, school: school, link: claimed.link, createdUTC: claimed.createdUTC, lastSeq: chain.lastSeq),
                    first == nil || missing.seq < first!.seq {
                    first = missing
                }
                if chain.events == 0 && first == nil {
                    report.silentSeats.append(seat)
                    continue
                }
                report.chains.append(.init(school: school, seat: seat, events: chain.events, purged: chain.purged, lastSeq: chain.lastSeq, ok: first == nil))
                if let first { problems.append(first) }
            }
            report.problems += problems
        }
        return report
    }

    /// Verifies the register against `checkpoint` (see ``verify(store:school:caCertificate:seats:checkpoint:)``):
    /// its signature (and its certificate against `caCertificate` when given), every chain
    /// of its school, and that every event the checkpoint saw is still there with the same hash.
    public static func verify(store: any RegisterStore, against checkpoint: Checkpoint, caCertificate: Certificate? = nil, seats: [String] = []) -> VerifyReport {
        verify(store: store, school: checkpoint.school, caCertificate: caCertificate, seats: seats, checkpoint: checkpoint)
    }

    /// The problem with one signed claim (a checkpoint saw `link`), nil when the stored chain still holds it.
    static func checkClaim(store: any RegisterStore, school: String, link: Checkpoint.SeatLink, createdUTC: String, lastSeq: Int64) -> VerifyReport.Problem? {
        do {
            if let stored = try store.event(school: school, seat: link.seat, seq: link.seq) {
                guard stored.hash != link.hash else { return nil }
                return .init(
                    school: school, seat: link.seat, seq: link.seq, kind: .edited,
                    detail: "its hash differs from the checkpoint of \(createdUTC): the chain was rewritten")
            }
            return .init(
                school: school, seat: link.seat, seq: min(lastSeq + 1, link.seq), lastSeq: link.seq, kind: .missingTail,
                detail: "the checkpoint of \(createdUTC) saw seq \(link.seq), the store ends at \(lastSeq)")
        } catch {
            return .init(school: school, seat: link.seat, seq: link.seq, kind: .missingTail, detail: "cannot read the store: \(error)")
        }
    }

    /// Where an edit covered by the signature `s` starts: the batch's links, chained again,
    /// must give the signed hash; then the first stored event whose time or content hash
    /// differs from them is the first edited one. Nil when the links are missing or
    /// altered (the caller names the whole batch).
    static func firstEdited(store: any RegisterStore, school: String, seat: String, _ s: StoredSignature) -> Int64? {
        guard let links = s.links, links.hashes.last == s.lastHash else { return nil }
        var found: Int64?
        var seq = links.firstSeq
        try? store.chain(school: school, seat: seat, from: links.firstSeq) { event in
            guard found == nil, event.seq <= s.lastSeq else { return }
            if event.seq != seq {
                found = seq
                return
            }
            let entry = links.entries[Int(event.seq - links.firstSeq)]
            if event.timeUTC != entry.timeUTC || event.contentHash != entry.contentHash
                || (event.seq == links.firstSeq && event.prevHash != links.prevHash) {
                found = event.seq
            }
            seq += 1
        }
        return found
    }

    static func verifyChain(
        store: any RegisterStore, school: String, seat: String, caCertificate: Certificate?
    ) -> (VerifyReport.Chain, VerifyReport.Problem?, Int64) {
        var chain = VerifyReport.Chain(school: school, seat: seat, events: 0, purged: 0, lastSeq: 0, ok: true)
        var problems: [VerifyReport.Problem] = []
        func problem(_ seq: Int64, _ kind: VerifyReport.Kind, _ detail: String, lastSeq: Int64? = nil) {
            problems.append(.init(school: school, seat: seat, seq: seq, lastSeq: lastSeq, kind: kind, detail: detail))
        }
        let isServer = seat == RegisterEvent.serverSeat
        let signatures: [StoredSignature]
        do {
            signatures = isServer ? [] : try store.signatures(school: school, seat: seat)
        } catch {
            problem(0, .badSignature, "cannot read the signatures: \(error)")
            signatures = []
        }
        let signedSeqs = Set(signatures.map(\.lastSeq))
        let sortedSigned = signatures.map(\.lastSeq).sorted()
        func previousSigned(_ seq: Int64) -> Int64 { sortedSigned.last { $0 < seq } ?? 0 }
        var hashAtSigned: [Int64: String] = [:]

        var expected: Int64 = 1
        var previousHash = ChainHash.genesis(school: school, seat: seat)
        var broken = false
        var misLinked: ChainedEvent?
        do {
            try store.chain(school: school, seat: seat, from: 1) { event in
                chain.events += 1
                chain.lastSeq = event.seq
                if event.content == nil { chain.purged += 1 }
                if signedSeqs.contains(event.seq) { hashAtSigned[event.seq] = event.hash }
                guard !broken else { return }
                if event.seq != expected {
                    problem(expected, .removed, "the chain jumps from seq \(expected - 1) to \(event.seq)", lastSeq: event.seq - 1)
                    broken = true
                    return
                }
                if !event.contentHolds {
                    problem(event.seq, .edited, "its content no longer matches its content hash")
                    broken = true
                    return
                }
                if event.prevHash != previousHash {
                    // Classified after the scan (finding where it belongs takes a second scan).
                    broken = true
                    misLinked = event
                    return
                }
                if !event.linkHolds {
                    problem(event.seq, .edited, "its hash no longer matches its seq, time or content hash")
                    broken = true
                    return
                }
                previousHash = event.hash
                expected += 1
            }
        } catch {
            problem(expected, .edited, "cannot read the chain: \(error)")
        }

        if let event = misLinked {
            if let k = try? seqOfHash(store: store, school: school, seat: seat, hash: event.prevHash), k != event.seq - 1 {
                problem(event.seq, .reordered, "it was chained after the event now at seq \(k)")
            } else if event.linkHolds {
                if event.seq == 1 {
                    problem(1, .edited, "it does not start from the chain's genesis")
                } else {
                    problem(event.seq - 1, .edited, "its hash no longer matches the link from seq \(event.seq)")
                }
            } else {
                problem(event.seq, .removed, "the event it was chained after is gone and later events were renumbered")
            }
        }

        if !isServer {
            var certificateChecks: [[UInt8]: Bool] = [:]
            for s in signatures {
                let certificateOK: Bool
                if let known = certificateChecks[s.certificateDER] {
                    certificateOK = known
                } else {
                    certificateOK = checkCertificate(s.certificateDER, school: school, seat: seat, ca: caCertificate)
                    certificateChecks[s.certificateDER] = certificateOK
                }
                let message = Batch.signedMessage(school: school, seat: seat, lastSeq: s.lastSeq, lastHash: s.lastHash)
                let key = (try? Certificate(derEncoded: s.certificateDER)).flatMap { P256.Signing.PublicKey($0.publicKey) }
                if !certificateOK {
                    problem(s.lastSeq, .badSignature, "the certificate stored with the batch is not this seat's\(caCertificate == nil ? "" : " from the school CA")")
                } else if key == nil || !Batch.verify(signature: s.signature, message: message, publicKey: key!) {
                    problem(s.lastSeq, .badSignature, "the signature does not verify")
                } else if let stored = hashAtSigned[s.lastSeq] {
                    if stored != s.lastHash {
                        if let first = firstEdited(store: store, school: school, seat: seat, s) {
                            problem(first, .edited, "it differs from what the seat sent and signed at seq \(s.lastSeq) (the links after it were recomputed)")
                        } else {
                            let from = (s.links?.firstSeq).map { min($0, s.lastSeq) } ?? (previousSigned(s.lastSeq) + 1)
                            problem(from, .edited, "an event among \(from)–\(s.lastSeq) no longer matches the seat's signature at seq \(s.lastSeq)",
                                    lastSeq: s.lastSeq)
                        }
                    }
                } else if s.lastSeq > chain.lastSeq {
                    // A cut tail: named once below, up to the last signed seq.
                } else {
                    problem(s.lastSeq, .removed, "the seat signed it but it is not stored")
                }
            }
            let signedUpTo = signatures.map(\.lastSeq).max() ?? 0
            if signedUpTo > chain.lastSeq {
                problem(chain.lastSeq + 1, .removed, "the seat signed up to seq \(signedUpTo), the store ends at \(chain.lastSeq)", lastSeq: signedUpTo)
            }
            if chain.lastSeq > signedUpTo {
                problem(signedUpTo + 1, .unsigned, "no seat batch signature covers them", lastSeq: chain.lastSeq)
            }
        }
        // The indexed columns must be what the content says (they decide what filters return).
        do {
            var reported = false
            try store.indexedColumns(school: school, seat: seat) { seq, content, columns in
                guard !reported else { return }
                let event = content.flatMap { try? RegisterEvent(json: $0) }
                let differences = columns.differences(from: IndexedColumns(event))
                if !differences.isEmpty {
                    reported = true
                    problem(seq, .edited, "its indexed column \(differences.joined(separator: ", ")) no longer matches its content")
                }
            }
        } catch {
            problem(0, .edited, "cannot read the indexed columns: \(error)")
        }
        let first = problems.min { $0.seq < $1.seq }
        chain.ok = first == nil
        return (chain, first, chain.events)
    }

    /// The seq of the event of a chain with this hash (a second, slow scan, only after a break).
    static func seqOfHash(store: any RegisterStore, school: String, seat: String, hash: String) throws -> Int64? {
        if hash == ChainHash.genesis(school: school, seat: seat) { return 0 }
        var found: Int64?
        try store.chain(school: school, seat: seat, from: 1) { event in
            if found == nil, event.hash == hash { found = event.seq }
        }
        return found
    }

    static func checkCertificate(_ der: [UInt8], school: String, seat: String, ca: Certificate?) -> Bool {
        guard let certificate = try? Certificate(derEncoded: der),
            let identity = try? CertificateIdentity.identity(of: certificate),
            identity.schoolID == school, identity.seatID == seat
        else { return false }
        if let ca {
            return ca.subject == certificate.issuer && ca.publicKey.isValidSignature(certificate.signature, for: certificate)
        }
        return true
    }
}
