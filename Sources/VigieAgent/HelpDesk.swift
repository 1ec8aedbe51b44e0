import Foundation
import Logging
import NIOConcurrencyHelpers
import VigieModel
import VigieRegister
import VigieScreen
import VigieWire

#if canImport(Glibc)
import Glibc
#endif

/// « Demander de l’aide »: the person at the seat asks for help (`vigie-ui help`,
/// from the desktop entry) through a local socket of the agent. The agent takes it
/// only from the seat's session user (the caller's uid, from the kernel), at most
/// a few times in ten minutes, a few hundred bytes; it draws a six-digit code
/// (valid ten minutes, one use), keeps only its HMAC, journals the request (never
/// the code), forwards it to the school server for the helpers, and answers the
/// window's words.
///
/// Protocol (one connection, one request): the client writes `help` and
/// optionally a tab and a one-line description, then a newline, within two
/// seconds; the agent answers `ok` or `refused`, a newline, the window's title, a
/// newline, its text (which may span lines), and closes.
final class HelpDesk: @unchecked Sendable {
    let path: String
    let pipeline: SeatPipeline
    let server: ServerClient?
    let logger: Logger
    private let listener = NIOLockedValueBox<Int32>(-1)
    private let asked = NIOLockedValueBox<[Date]>([])

    /// Requests per ten minutes, and the bytes of one.
    static let maxPerWindow = 5
    static let requestBytes = 512

    init(path: String, pipeline: SeatPipeline, server: ServerClient?, logger: Logger) {
        self.path = path
        self.pipeline = pipeline
        self.server = server
        self.logger = logger
    }

    /// Binds the socket (mode 0666: anyone may connect, the uid decides) and serves
    /// on a thread of its own until ``stop()``.
    func start() throws {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Reason("help.socket", ["path": path, "detail": String(cString: strerror(errno))]) }
        guard let bound = withUnixSocketAddress(path, { bind(fd, $0, $1) }) else {
            close(fd)
            throw Reason("help.socket", ["path": path, "detail": "path too long"])
        }
        guard bound == 0, chmod(path, 0o666) == 0, listen(fd, 8) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw Reason("help.socket", ["path": path, "detail": why])
        }
        listener.withLockedValue { $0 = fd }
        let thread = Thread { [self] in self.serve(fd) }
        thread.name = "vigie-help"
        thread.start()
        logger.info("help requests accepted", metadata: ["socket": "\(path)"])
    }

    func stop() {
        let fd = listener.withLockedValue { fd -> Int32 in defer { fd = -1 }; return fd }
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        unlink(path)
    }

    private func serve(_ fd: Int32) {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            // One at a time, two seconds each at most: a silent client cannot hold the desk.
            var limit = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            var credentials = PeerCredentials()
            var length = socklen_t(MemoryLayout<PeerCredentials>.size)
            let uid: uid_t? = getsockopt(client, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 ? credentials.uid : nil
            let line = readLine(client)
            let (ok, title, text) = handle(line, uid: uid)
            let answer = Array("\(ok ? "ok" : "refused")\n\(title)\n\(text)".utf8)
            _ = answer.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(client)
        }
    }

    private func readLine(_ fd: Int32) -> String? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while bytes.count <= Self.requestBytes {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            bytes += chunk[0..<n]
            if let end = bytes.firstIndex(of: 0x0A) { return String(decoding: bytes[..<end], as: UTF8.self) }
        }
        return nil
    }

    /// Decides one request: (accepted, title, text).
    func handle(_ line: String?, uid: uid_t?) -> (Bool, String, String) {
        let texts = pipeline.texts
        guard let line, line == "help" || line.hasPrefix("help\t") else {
            return (false, texts.helpTitle, texts.helpRefused(.malformed))
        }
        let description = line.hasPrefix("help\t")
            ? String(line.dropFirst(5)).trimmingCharacters(in: .whitespacesAndNewlines).filter { !$0.isNewline }
            : ""
        guard description.count <= 200 else { return (false, texts.helpTitle, texts.helpRefused(.malformed)) }
        // The seat's session user only: the kernel says who connected.
        guard let user = pipeline.effects.sessionUser, let uid, let expected = Self.uid(of: user), expected == uid else {
            logger.notice("help request refused: not the session user", metadata: ["uid": "\(uid.map(String.init) ?? "?")"])
            return (false, texts.helpTitle, texts.helpRefused(.notSessionUser))
        }
        let now = Date()
        let tooMany = asked.withLockedValue { times -> Bool in
            times = times.filter { now.timeIntervalSince($0) < HelpCodes.window }
            if times.count >= Self.maxPerWindow { return true }
            times.append(now)
            return false
        }
        if tooMany { return (false, texts.helpTitle, texts.helpRefused(.tooMany)) }
        let code = HelpCodes.draw()
        let pending = pipeline.helpCodes.put(seat: pipeline.seat.id, room: pipeline.room.id, user: user, description: description,
                                             code: code, now: now)
        // Journaled before the code is shown: who asked, and what they wrote; never the code.
        let args = description.isEmpty ? [:] : ["reason": description]
        do {
            try pipeline.journal.append(pipeline.event("assist.help", args, by: nil, at: now,
                                                       status: .ok, reason: Reason("assist.help-requested", ["user": user])))
        } catch {
            pipeline.helpCodes.remove(seat: pipeline.seat.id)
            logger.error("journal write failed for a help request", metadata: ["error": "\(error)"])
            return (false, texts.helpTitle, texts.helpRefused(.journal))
        }
        logger.notice("help requested", metadata: ["user": "\(user)"])
        if let server {
            let seat = pipeline.seat.id, logger = self.logger
            Task {
                do {
                    let answer = try await server.call("assist.help", args: ["code": code, "user": user, "description": description],
                                                       timeout: .seconds(10))
                    if answer.status != .ok { logger.warning("the server did not keep the help request", metadata: ["code": "\(answer.reason.code)"]) }
                } catch {
                    logger.warning("help request not passed to the server; helpers need `vigie assist --code … --seat \(seat)`",
                                   metadata: ["error": "\(error)"])
                }
            }
        }
        return (true, texts.helpTitle, texts.helpCode(code, expires: pending.expires))
    }

    static func uid(of login: String) -> uid_t? {
        guard let entry = getpwnam(login) else { return nil }
        return entry.pointee.pw_uid
    }
}

/// Linux's `struct ucred` (SO_PEERCRED), which Glibc's module leaves out without _GNU_SOURCE.
struct PeerCredentials {
    var pid: pid_t = 0
    var uid: uid_t = 0
    var gid: gid_t = 0
}

extension SeatTexts {
    enum HelpRefusal { case malformed, notSessionUser, tooMany, journal }

    var helpTitle: String { language == .fr ? "Demander de l’aide" : "Ask for help" }

    func helpCode(_ code: String, expires: Date) -> String {
        let spaced = String(code.prefix(3)) + " " + String(code.suffix(3))
        let at = time(expires)
        switch language {
        case .fr:
            return "Votre code d’assistance : \(spaced)\nDonnez-le à la personne qui vous aide (service informatique). Il est valable 10 minutes (jusqu’à \(at)), une seule fois.\nAvant qu’elle voie votre écran, Vigie vous demandera votre accord ; vous pourrez arrêter à tout moment."
        case .en:
            return "Your assistance code: \(spaced)\nGive it to the person helping you (IT staff). It is valid for 10 minutes (until \(at)), once.\nBefore they see your screen, Vigie will ask for your consent; you can stop at any time."
        }
    }

    func helpRefused(_ why: HelpRefusal) -> String {
        switch (language, why) {
        case (.fr, .malformed): return "La demande n’a pas pu être lue. Réessayez depuis le menu « Demander de l’aide »."
        case (.en, .malformed): return "The request could not be read. Try again from the « Ask for help » menu."
        case (.fr, .notSessionUser): return "Seule la personne connectée à ce poste peut demander de l’aide ici."
        case (.en, .notSessionUser): return "Only the person logged in at this seat can ask for help here."
        case (.fr, .tooMany): return "Trop de demandes en peu de temps : attendez quelques minutes, ou appelez le service informatique."
        case (.en, .tooMany): return "Too many requests in a short time: wait a few minutes, or call the IT staff."
        case (.fr, .journal): return "Le poste ne peut pas enregistrer la demande : appelez le service informatique."
        case (.en, .journal): return "The seat cannot record the request: call the IT staff."
        }
    }
}
