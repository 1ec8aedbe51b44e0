import VigieRegister

/// The register's reading of event content (what a seat's journal, a batch or
/// an export holds). What must hold:
///
/// - ``CanonicalJSON/parse(_:)`` and ``RegisterEvent/init(json:)`` throw only
///   ``RegisterError`` (`register.invalid-content`);
/// - the canonical encoding of what was parsed parses back to the same thing
///   and is a fixed point (encoding it again gives the same bytes);
/// - an event read back from its canonical bytes is the same event;
/// - an event chained first in its seat's chain checks, unless its `timeUTC`
///   is not a register time, and then the check says so.
///
/// Accepted: a register event.
public func fuzzEvent(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) -> FuzzOutcome {
    let input = Array(bytes)
    let fail = { (message: String) in FuzzFailure(.event, message) }
    func registerError(_ what: String, _ body: () throws -> Void) throws(FuzzFailure) -> RegisterError? {
        do {
            try body()
            return nil
        } catch let error as RegisterError {
            return error
        } catch {
            throw fail("\(what) threw \(type(of: error)), not a RegisterError: \(error)")
        }
    }

    // The canonical JSON reader on the raw bytes.
    var object: [String: CanonicalJSON.Value]?
    if let error = try registerError("CanonicalJSON.parse", { object = try CanonicalJSON.parse(input) }) {
        guard error.code == .invalidContent else { throw fail("CanonicalJSON.parse threw \(error.code)") }
    }
    if let object {
        let canonical = CanonicalJSON.encode(object)
        var again: [String: CanonicalJSON.Value]?
        if let error = try registerError("CanonicalJSON.parse", { again = try CanonicalJSON.parse(canonical) }) {
            throw fail("the canonical encoding does not parse: \(error)")
        }
        guard again == object, CanonicalJSON.encode(again!) == canonical else {
            throw fail("the canonical encoding is not a fixed point")
        }
    }

    // The event reader, as the register calls it (on text).
    let text = String(decoding: input, as: UTF8.self)
    var event: RegisterEvent?
    if let error = try registerError("RegisterEvent(json:)", { event = try RegisterEvent(json: text) }) {
        guard error.code == .invalidContent else { throw fail("RegisterEvent(json:) threw \(error.code)") }
        return FuzzOutcome(accepted: false, error.message)
    }
    guard let event else { throw fail("RegisterEvent(json:) returned nothing") }
    if String(validating: input, as: UTF8.self) != nil && object == nil {
        throw fail("an event was read from bytes CanonicalJSON.parse refuses")
    }
    let canonical = event.canonicalBytes
    var back: RegisterEvent?
    if let error = try registerError("RegisterEvent(json:)", { back = try RegisterEvent(json: String(decoding: canonical, as: UTF8.self)) }) {
        throw fail("an event's canonical bytes do not read back: \(error)")
    }
    guard back == event, back!.canonicalBytes == canonical else { throw fail("an event does not read back from its canonical bytes") }

    // Chained first in its seat's chain.
    let chained = ChainedEvent.make(after: nil, school: event.school, seat: event.seat, event: event)
    guard chained.event == event, chained.linkHolds, chained.contentHolds else { throw fail("a chained event does not hold") }
    let validTime = RegisterTime.parseUTC(event.timeUTC) != nil
    let checkError = try registerError("ChainedEvent.check") { try chained.check(after: nil, school: event.school, seat: event.seat) }
    switch (checkError, validTime) {
    case (nil, true): break
    case (let error?, false) where error.code == .invalidContent: break
    case (let error?, _): throw fail("the chained event does not check: \(error)")
    case (nil, false): throw fail("an event at time \"\(event.timeUTC)\" checks")
    }
    return FuzzOutcome(accepted: true, "\(event.seat) \(event.feature) \(event.outcome.rawValue)\(validTime ? "" : " (time not a register time)")")
}
