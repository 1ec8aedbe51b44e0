import Foundation

/// What ``RegisterStore/ingest(_:certificateDER:)`` did with a batch.
public enum IngestResult: Sendable, Equatable {
    /// Every event of the batch is stored (now or before); the seat's chain ends at `lastSeq`.
    /// The agent may acknowledge up to `lastSeq`.
    case stored(lastSeq: Int64)
    /// The batch starts after a hole: nothing was stored; send again from `expected`.
    case gap(expected: Int64)
}

/// The last link of one chain.
public struct ChainLink: Codable, Sendable, Equatable, Hashable {
    /// The seat id, or `@server`.
    public var seat: String
    /// The last seq.
    public var seq: Int64
    /// The last hash.
    public var hash: String

    /// A chain's last link.
    public init(seat: String, seq: Int64, hash: String) {
        self.seat = seat
        self.seq = seq
        self.hash = hash
    }
}

/// A seat's batch signature as the store keeps it.
public struct StoredSignature: Sendable, Equatable {
    /// The school id.
    public var school: String
    /// The seat id.
    public var seat: String
    /// The seq of the batch's last event.
    public var lastSeq: Int64
    /// The hash of the batch's last event.
    public var lastHash: String
    /// Base64 DER ECDSA signature, see ``Batch``.
    public var signature: String
    /// The seat certificate (DER) the batch came with.
    public var certificateDER: [UInt8]
    /// The chain fields of the batch's events as the seat sent them (nil for batches
    /// stored before they were kept): lets verify name the first edited event.
    public var links: BatchLinks?

    /// A stored signature.
    public init(
        school: String, seat: String, lastSeq: Int64, lastHash: String, signature: String, certificateDER: [UInt8], links: BatchLinks? = nil
    ) {
        self.school = school
        self.seat = seat
        self.lastSeq = lastSeq
        self.lastHash = lastHash
        self.signature = signature
        self.certificateDER = certificateDER
        self.links = links
    }
}

/// The chain fields of a batch's events as received: the first event's prevHash, then
/// each event's time and content hash. Chained again from `prevHash`, they must give
/// the batch's signed last hash, so they are as trustworthy as the seat's signature
/// (changing any of them would need a SHA-256 collision). Verify compares them with
/// the stored events to name the first one that was edited, even when an intruder
/// recomputed every link after it.
public struct BatchLinks: Sendable, Equatable {
    /// The seq of the batch's first event.
    public var firstSeq: Int64
    /// The prevHash of the batch's first event.
    public var prevHash: String
    /// Each event's `timeUTC` and `contentHash`, in seq order from ``firstSeq``.
    public var entries: [(timeUTC: String, contentHash: String)]

    /// Links of a batch.
    public init(firstSeq: Int64, prevHash: String, entries: [(timeUTC: String, contentHash: String)]) {
        self.firstSeq = firstSeq
        self.prevHash = prevHash
        self.entries = entries
    }

    /// The links of `events` (consecutive, as in a ``Batch``).
    public init(_ events: [ChainedEvent]) {
        firstSeq = events.first?.seq ?? 1
        prevHash = events.first?.prevHash ?? ""
        entries = events.map { ($0.timeUTC, $0.contentHash) }
    }

    /// The stored text: the prevHash, then one `timeUTC contentHash` line per event.
    public var text: String {
        var out = prevHash + "\n"
        for e in entries { out += e.timeUTC + " " + e.contentHash + "\n" }
        return out
    }

    /// Reads ``text``; nil when it is not of that form.
    public init?(text: String, lastSeq: Int64) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard !lines.isEmpty else { return nil }
        prevHash = lines.removeFirst()
        var entries: [(timeUTC: String, contentHash: String)] = []
        for line in lines {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { return nil }
            entries.append((String(parts[0]), String(parts[1])))
        }
        guard !entries.isEmpty else { return nil }
        self.entries = entries
        firstSeq = lastSeq - Int64(entries.count) + 1
    }

    /// The link hash of every event, chained from ``prevHash``.
    public var hashes: [String] {
        var previous = prevHash
        return entries.enumerated().map { i, e in
            previous = ChainHash.link(prevHash: previous, seq: firstSeq + Int64(i), timeUTC: e.timeUTC, contentHash: e.contentHash)
            return previous
        }
    }

    public static func == (a: BatchLinks, b: BatchLinks) -> Bool {
        a.firstSeq == b.firstSeq && a.prevHash == b.prevHash && a.entries.elementsEqual(b.entries) { $0 == $1 }
    }
}

/// The columns a store keeps beside an event's content so that filters can use an
/// index: copies of content fields, never trusted on their own. Verify recomputes
/// them from the (hashed) content and names an event whose columns were changed;
/// reads check every row against its content.
public struct IndexedColumns: Sendable, Equatable {
    /// `room`.
    public var room: String?
    /// `actor`.
    public var actor: String?
    /// `actor_name`.
    public var actorName: String?
    /// `actor_login`.
    public var actorLogin: String?
    /// `session_user`.
    public var sessionUser: String?
    /// `feature`.
    public var feature: String?
    /// `outcome`.
    public var outcome: String?

    /// Columns as stored.
    public init(
        room: String?, actor: String?, actorName: String?, actorLogin: String?, sessionUser: String?, feature: String?, outcome: String?
    ) {
        self.room = room
        self.actor = actor
        self.actorName = actorName
        self.actorLogin = actorLogin
        self.sessionUser = sessionUser
        self.feature = feature
        self.outcome = outcome
    }

    /// The columns derived from `event` (all NULL for a purged event).
    public init(_ event: RegisterEvent?) {
        self.init(
            room: event?.room, actor: event?.actor, actorName: event?.actorName, actorLogin: event?.actorLogin,
            sessionUser: event?.sessionUser, feature: event?.feature, outcome: event?.outcome.rawValue)
    }

    /// The names of the columns that differ from `other`'s.
    public func differences(from other: IndexedColumns) -> [String] {
        var out: [String] = []
        if room != other.room { out.append("room") }
        if actor != other.actor { out.append("actor") }
        if actorName != other.actorName { out.append("actor_name") }
        if actorLogin != other.actorLogin { out.append("actor_login") }
        if sessionUser != other.sessionUser { out.append("session_user") }
        if feature != other.feature { out.append("feature") }
        if outcome != other.outcome { out.append("outcome") }
        return out
    }
}

/// Which events to read. Dates are UTC instants: `from` inclusive, `to` exclusive.
public struct RegisterFilter: Sendable, Equatable {
    /// Only this school; nil for every school of the store.
    public var school: String?
    /// Events at or after this instant.
    public var from: Date?
    /// Events before this instant.
    public var to: Date?
    /// Only this room.
    public var room: String?
    /// Only this seat (`@server` for the server's chain).
    public var seat: String?
    /// Only this actor: its identity URI, its display name or its login.
    public var actor: String?
    /// Only events where this login was the user at the seat.
    public var sessionUser: String?
    /// Only events about this login, as the user at the seat or as the actor (access requests).
    public var subject: String?
    /// Include purged events (no content; they match no room, actor or user filter).
    public var includePurged: Bool
    /// Only these features (`assist`, `assist.note`…); purged events have none.
    public var features: [String]?

    /// A filter; every criterion is optional.
    public init(
        school: String? = nil, from: Date? = nil, to: Date? = nil, room: String? = nil, seat: String? = nil,
        actor: String? = nil, sessionUser: String? = nil, subject: String? = nil, includePurged: Bool = false,
        features: [String]? = nil
    ) {
        self.features = features
        self.school = school
        self.from = from
        self.to = to
        self.room = room
        self.seat = seat
        self.actor = actor
        self.sessionUser = sessionUser
        self.subject = subject
        self.includePurged = includePurged
    }

    /// Whether an event passes the filter, judged on its content alone (nil: purged).
    /// Stores select with indexed columns, then check every row with this, so a
    /// column edited in the file cannot bring in an event the filter excludes.
    public func matches(school eventSchool: String, seat eventSeat: String, _ chained: ChainedEvent, _ event: RegisterEvent?) -> Bool {
        if let school, school != eventSchool { return false }
        if let seat, seat != eventSeat { return false }
        // As the store selects: UTC texts of one fixed width compare like the instants.
        if let from, chained.timeUTC < RegisterTime.utc(from) { return false }
        if let to, chained.timeUTC >= RegisterTime.utc(to) { return false }
        guard let event else {
            return includePurged && room == nil && actor == nil && sessionUser == nil && subject == nil && features == nil
        }
        if let features, !features.contains(event.feature) { return false }
        if event.school != eventSchool || event.seat != eventSeat || event.timeUTC != chained.timeUTC { return false }
        if let room, event.room != room { return false }
        if let actor, event.actor != actor && event.actorName != actor && event.actorLogin != actor { return false }
        if let sessionUser, event.sessionUser != sessionUser { return false }
        if let subject, event.sessionUser != subject && event.actorLogin != subject { return false }
        return true
    }
}

/// Which events a purge reaches, by feature: interventions have their own retention.
public enum FeatureScope: Sendable, Equatable {
    case all
    case only([String])
    case except([String])
}

/// What a purge did.
public struct PurgeResult: Sendable, Equatable, Codable {
    /// Events whose content was removed now.
    public var purgedEvents: Int
    /// Files named by the `screenshot.saved` events purged now: remove them too.
    public var screenshotFiles: [String]
    /// The cutoff, UTC: events before it were purged.
    public var cutoffUTC: String

    /// A purge's result.
    public init(purgedEvents: Int, screenshotFiles: [String], cutoffUTC: String) {
        self.purgedEvents = purgedEvents
        self.screenshotFiles = screenshotFiles
        self.cutoffUTC = cutoffUTC
    }
}

/// Where the server keeps the register. SQLite (``SQLiteRegisterStore``) for
/// one school; the same interface for a shared PostgreSQL later. Every key
/// starts with the school id, so many schools can share one store.
///
/// A store never rewrites an event: it adds links (``ingest(_:certificateDER:)``,
/// ``appendServer(_:school:)``) and removes content past retention (``purge(school:olderThan:)``).
public protocol RegisterStore: Sendable {
    /// Checks a seat's signed batch against what is stored and stores its new events
    /// and its signature. Events already stored with the same hash are skipped, so a
    /// batch sent again stores nothing twice. Throws ``RegisterError`` with
    /// `.badSignature` (signature, or certificate not the seat's), `.invalidBatch`,
    /// `.brokenChain`/`.invalidContent` (the batch does not link by itself), or
    /// `.chainConflict` (a stored event at the same seq has another hash).
    func ingest(_ batch: Batch, certificateDER: [UInt8]) throws -> IngestResult

    /// Appends `event` to the server's own chain (seat `@server`) of `school`.
    func appendServer(_ event: RegisterEvent, school: String) throws -> ChainedEvent

    /// Visits the events that pass `filter` with their school and seat, ordered by UTC
    /// time, then school, seat and seq, without holding them all in memory. The event
    /// is nil when purged.
    func placedEvents(
        _ filter: RegisterFilter, _ visit: (_ school: String, _ seat: String, ChainedEvent, RegisterEvent?) throws -> Void
    ) throws

    /// Visits one chain as stored, ordered by seq, from `seq` on (for verify).
    func chain(school: String, seat: String, from seq: Int64, _ visit: (ChainedEvent) throws -> Void) throws

    /// The stored event at `seq` of a chain, if any.
    func event(school: String, seat: String, seq: Int64) throws -> ChainedEvent?

    /// The schools that have events.
    func schools() throws -> [String]

    /// The last stored link of one chain, nil when it has no event.
    func lastLink(school: String, seat: String) throws -> ChainLink?

    /// The last link of every chain of `school` (seats and `@server`), sorted by seat.
    func lastLinks(school: String) throws -> [ChainLink]

    /// The batch signatures stored for a seat, ordered by last seq.
    func signatures(school: String, seat: String) throws -> [StoredSignature]

    /// The seats of `school` that have stored batch signatures (even if their events are gone).
    func signedSeats(school: String) throws -> [String]

    /// Visits a chain's stored indexed columns with its content, ordered by seq (for verify).
    func indexedColumns(school: String, seat: String, _ visit: (_ seq: Int64, _ content: String?, IndexedColumns) throws -> Void) throws

    /// Removes the content (and the columns derived from it) of the events of `school`
    /// before `date` (of the features `features` names); keeps seq, time and hashes,
    /// so the chains still verify.
    func purge(school: String, olderThan date: Date, features: FeatureScope) throws -> PurgeResult

    /// Keeps a checkpoint the server made.
    func saveCheckpoint(_ checkpoint: Checkpoint) throws

    /// The checkpoints kept for `school`, oldest first.
    func checkpoints(school: String) throws -> [Checkpoint]
}

extension RegisterStore {
    /// Purges every feature's events before `date`.
    public func purge(school: String, olderThan date: Date) throws -> PurgeResult {
        try purge(school: school, olderThan: date, features: .all)
    }

    /// Visits the events that pass `filter`, ordered by UTC time, then school, seat
    /// and seq, without holding them all in memory. The event is nil when purged.
    public func events(_ filter: RegisterFilter, _ visit: (ChainedEvent, RegisterEvent?) throws -> Void) throws {
        try placedEvents(filter) { _, _, chained, event in try visit(chained, event) }
    }

    /// Everything the register holds about one person (`login`), as the user at a seat
    /// or as the actor, for an access request (GDPR art. 15). Purged events are left
    /// out: their content, and so the person's data, is gone.
    public func subject(school: String, login: String, _ visit: (ChainedEvent, RegisterEvent) throws -> Void) throws {
        try events(RegisterFilter(school: school, subject: login)) { chained, event in
            if let event { try visit(chained, event) }
        }
    }

    /// ``subject(school:login:_:)`` collected in an array (an access request is small).
    public func subject(school: String, login: String) throws -> [(ChainedEvent, RegisterEvent)] {
        var out: [(ChainedEvent, RegisterEvent)] = []
        try subject(school: school, login: login) { out.append(($0, $1)) }
        return out
    }
}
