import Foundation
import NIOConcurrencyHelpers
import Testing
@testable import VigieAgent
import VigieModel
import VigieTestSupport

/// A seat whose lock the test sets, recording the notices it is asked to show.
private final class NoticeRecorder: SeatEffects, @unchecked Sendable {
    let shown = NIOLockedValueBox<[String?]>([])
    let locker = NIOLockedValueBox<Identity?>(nil)
    var sessionUser: String? { nil }
    var sessionUnavailable: Reason? { nil }
    var lockedBy: Identity? { locker.withLockedValue { $0 } }
    var inputHeld: Bool? { nil }
    func lock(by identity: Identity, until: Date?, wait: Double) async -> LockOutcome { .failed(Reason("test.unused")) }
    func unlock() async -> Bool { false }
    func showMessage(title: String, text: String, expireAfter: Double, maxOpen: Int) async -> Result<Void, Reason> { .failure(Reason("test.unused")) }
    func capture(thumbnailWidth: Int?) async -> Result<Shot, Reason> { .failure(Reason("test.unused")) }
    func showIndicator(_ text: String) async -> NoticePlacement? { nil }
    func schedulePower(_ action: PowerAction, delay: Int, by identity: Identity) async -> (SeatStatus, Reason) { (.failed, Reason("test.unused")) }
    func cancelPower(by identity: Identity) async -> (SeatStatus, Reason) { (.failed, Reason("test.unused")) }
    func run(_ command: [String], program: String, privileged: Bool, timeout: Int, by identity: Identity) async -> (SeatStatus, Reason, [UInt8]) {
        (.failed, Reason("test.unused"), [])
    }
    func thumbnails() async -> Result<any ThumbnailSource, Reason> { .failure(Reason("test.unused")) }
    func showWatchers(_ text: String?, control: Bool) async { shown.withLockedValue { $0.append(text) } }
    func remoteScreen(_ options: RemoteOptions) async -> Result<RemoteScreen, Reason> { .failure(Reason("test.unused")) }
    func assistBanner(text: String, button: String, control: Bool, stopped: @escaping @Sendable () -> Void) async -> (@Sendable () -> Void)? { nil }
    func askConsent(title: String, text: String, refuse: String, accept: String, timeout: Double) async -> ConsentAnswer { .unavailable }
}

/// Who watches, as the person at the seat is told: the notice follows the lock,
/// and the lock's notice (an hour at most) is drawn again while a viewer stays.
@Suite struct WatchNotice {
    let texts = SeatTexts(language: .fr, timeZoneID: "Europe/Paris")
    let teacher = Identity(schoolID: "lycee-test", kind: .person(login: "pdupont", role: .teacher), displayName: "M. Dupont")

    @Test func theNoticeIsShownAgainWhenTheLockChangesAndRenewedOnALongLock() async throws {
        let seat = NoticeRecorder()
        // Long enough that two refreshes in a row fall inside it on a loaded machine.
        let board = WatchBoard(lockNoticeRenewal: .seconds(5))
        let viewer = ObjectIdentifier(seat)
        await board.join(viewer, identity: teacher, since: Date(), effects: seat, texts: texts)
        #expect(seat.shown.withLockedValue { $0.count } == 1)
        #expect(seat.shown.withLockedValue { $0.last ?? nil }?.contains("M. Dupont") == true)
        // Nothing changed: not shown again.
        await board.refresh(effects: seat, texts: texts)
        #expect(seat.shown.withLockedValue { $0.count } == 1)
        // Locked: shown again (the lock draws it now).
        seat.locker.withLockedValue { $0 = teacher }
        await board.refresh(effects: seat, texts: texts)
        #expect(seat.shown.withLockedValue { $0.count } == 2)
        await board.refresh(effects: seat, texts: texts)
        #expect(seat.shown.withLockedValue { $0.count } == 2, "not at every tick")
        // Still locked past the renewal: drawn again before the lock's notice expires.
        let renewed = await eventually(60) {
            await board.refresh(effects: seat, texts: texts)
            return seat.shown.withLockedValue { $0.count } == 3
        }
        #expect(renewed)
        // The viewer leaves: removed.
        await board.leave(viewer, effects: seat, texts: texts)
        #expect(seat.shown.withLockedValue { $0.last } == .some(nil))
    }
}
