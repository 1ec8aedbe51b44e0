import Foundation
import VigieModel
#if canImport(Glibc)
import Glibc
#endif

/// What the console did to wake one seat.
public struct WakeOutcome: Sendable {
    public var seat: Seat
    /// `ok` (packet sent), `refused` (the caller's grants have no `wake` in this
    /// room) or `failed` (no MAC, send error).
    public var status: SeatStatus
    /// `wake.sent`, `wake.no-mac`, `wake.send-failed` or a `policy.*` code.
    public var reason: Reason
    /// Where the packet went, when one was sent or attempted.
    public var target: WakeTarget?
    /// The magic packet, when one was built.
    public var packet: [UInt8]
    public var at: Date
}

/// Wake-on-LAN from the console: the seats are off, so the console checks the
/// caller's grants itself (the same rules the agents run) and sends one magic
/// packet per seat as a UDP broadcast to the room's configured address and port.
///
/// Anyone on the network can send magic packets; the check keeps the console
/// honest, and the outcomes are what the server's register records (the
/// `record` hook of ``wake(_:identity:serialHex:config:now:record:)``).
public enum WakeOnLAN {
    /// Wakes `seats`; `record` is called with each outcome as it happens.
    public static func wake(
        _ seats: [Seat], identity: Identity, serialHex: String, config: SchoolConfig, now: Date = Date(),
        record: (WakeOutcome) -> Void = { _ in }
    ) -> [WakeOutcome] {
        var outcomes: [WakeOutcome] = []
        for seat in seats {
            var outcome = WakeOutcome(seat: seat, status: .ok, reason: Reason("wake.sent"), target: nil, packet: [], at: Date())
            if case .refuse(let reason) = Policy.decide(identity: identity, serialHex: serialHex, feature: .wake, seat: seat, config: config, at: now) {
                outcome.status = .refused
                outcome.reason = reason
            } else if let mac = seat.mac, let packet = MagicPacket.bytes(mac: mac) {
                let target = config.power.wakeTarget(room: seat.room)
                outcome.target = target
                outcome.packet = packet
                let params = ["mac": mac, "broadcast": target.broadcast, "port": String(target.port)]
                do {
                    try send(packet, to: target)
                    outcome.reason = Reason("wake.sent", params)
                } catch {
                    outcome.status = .failed
                    outcome.reason = Reason("wake.send-failed", params.merging(["detail": "\(error)"]) { $1 })
                }
            } else {
                outcome.status = .failed
                outcome.reason = Reason("wake.no-mac")
            }
            record(outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }

    /// Sends one datagram to `target` (broadcast allowed).
    public static func send(_ packet: [UInt8], to target: WakeTarget) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw WakeError(.socket, "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(target.port).bigEndian
        guard inet_pton(AF_INET, target.broadcast, &addr.sin_addr) == 1 else { throw WakeError(.address, "“\(target.broadcast)” is not an IPv4 address") }
        let sent = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard sent == packet.count else { throw WakeError(.send, "sendto \(target.broadcast):\(target.port): \(String(cString: strerror(errno)))") }
    }
}

/// A Wake-on-LAN packet that could not be sent.
public typealias WakeError = CodedError<WakeFailure>

/// What a ``WakeError`` can be.
public enum WakeFailure: String, Sendable {
    /// No UDP socket (out of descriptors, not allowed).
    case socket = "wake.socket"
    /// The broadcast address is not an IPv4 address.
    case address = "wake.address"
    /// The packet could not be sent.
    case send = "wake.send"
}
