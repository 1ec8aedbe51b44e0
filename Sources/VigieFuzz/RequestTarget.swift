import NIOCore
import VigieAgent
import VigieModel
import VigieWire

/// A seat's reading of a request frame whose JSON header is `bytes`. What must hold:
///
/// - a request names a known feature, and survives the console's encoding
///   (``Frame/request(_:body:)``) and the wire (``FrameEncoder``, ``FrameDecoder``) unchanged;
/// - anything else is answered `failed` with a `protocol.*` code, and that
///   answer can be sent (``Frame/response(_:body:)``);
/// - the same header in a response frame is refused (`protocol.malformed`).
///
/// Accepted: a request.
public func fuzzRequest(_ bytes: UnsafeRawBufferPointer) throws(FuzzFailure) -> FuzzOutcome {
    let header = Array(bytes)
    let fail = { (message: String) in FuzzFailure(.request, message) }

    guard case .answer(let refused) = SeatConnection.decode(Frame(kind: .response, header: header)),
          refused.status == .failed, refused.code == "protocol.malformed" else {
        throw fail("a response frame was not refused as protocol.malformed")
    }

    switch SeatConnection.decode(Frame(kind: .request, header: header)) {
    case .request(let request, let feature):
        guard feature.rawValue == request.feature else { throw fail("feature \(feature) read from \"\(request.feature)\"") }
        var wire = ByteBuffer()
        FrameEncoder.encode(.request(request), into: &wire)
        let frame: Frame?
        do {
            frame = try FrameDecoder.decode(&wire)
        } catch {
            throw fail("the console's frame for \(request) does not decode: \(error)")
        }
        guard let frame, wire.readableBytes == 0 else { throw fail("the console's frame for \(request) is not one whole frame") }
        guard case .request(let again, let feature2) = SeatConnection.decode(frame), again == request, feature2 == feature else {
            throw fail("\(request) does not survive the console's encoding")
        }
        return FuzzOutcome(accepted: true, "\(feature) #\(request.id)")
    case .answer(let response):
        guard response.status == .failed, response.code.hasPrefix("protocol.") else {
            throw fail("answered \(response.status) \(response.code)")
        }
        if response.code == "protocol.unknown-feature" {
            guard let name = response.params["feature"], Feature(rawValue: name) == nil else {
                throw fail("protocol.unknown-feature for a known feature (\(response.params))")
            }
        }
        let answer = Frame.response(response)
        guard (try? answer.decodeHeader(Response.self)) == response else { throw fail("the answer \(response) does not survive its encoding") }
        return FuzzOutcome(accepted: false, response.code)
    }
}
