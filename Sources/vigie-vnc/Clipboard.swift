import CVNCServer
import CXCB
import Glibc
import VigieScreen

/// The seat's clipboard for the viewer (`--clipboard`, control mode only):
/// text only, at most `limit` bytes a transfer, larger ones dropped whole.
///
/// Viewer → seat: the viewer's ClientCutText makes an unmapped window of ours
/// the owner of CLIPBOARD and PRIMARY (with a server timestamp, as ICCCM
/// wants), and SelectionRequests for UTF8_STRING, STRING, TARGETS and TIMESTAMP
/// are answered from that text. Seat → viewer: XFIXES says when another client
/// takes CLIPBOARD (not PRIMARY, which every mouse selection changes); its text
/// is converted to UTF8_STRING (STRING for clients without it) into a property
/// of our window and sent as ServerCutText (UTF-8 to a viewer with the
/// extended clipboard, Latin-1 to the others). No INCR (the incremental
/// transfer) either way: toolkits turn to it for large texts only, and a text
/// an owner sends that way is dropped.
final class Clipboard {
    static let limit = 256 * 1024

    private let x: XConnection
    private let screen: rfbScreenInfoPtr
    private let window: xcb_window_t
    private let clipboard, utf8, targets, timestamp, incr, transfer, stamp: xcb_atom_t
    private let primary = xcb_atom_t(XCB_ATOM_PRIMARY.rawValue)
    private let string = xcb_atom_t(XCB_ATOM_STRING.rawValue)
    /// Response type of XFixesSelectionNotify; nil without XFIXES.
    private let ownerChange: UInt8?

    /// The viewer's text (UTF-8) we own the selections with, and since when.
    private var text: [UInt8]?
    private var owned: Set<xcb_atom_t> = []
    private var ownedSince = xcb_timestamp_t(XCB_CURRENT_TIME)
    /// The viewer's text waiting for the server's timestamp.
    private var pending: [UInt8]?
    /// The seat's text waiting for the viewer to be past its handshake.
    private var toViewer: [UInt8]?
    /// The selection time of the conversion asked for, for the STRING retry.
    private var converting: xcb_timestamp_t = 0

    init(_ x: XConnection, screen: rfbScreenInfoPtr, xfixesEvent: UInt8?) {
        self.x = x
        self.screen = screen
        let c = x.connection
        clipboard = x.atom("CLIPBOARD")
        utf8 = x.atom("UTF8_STRING")
        targets = x.atom("TARGETS")
        timestamp = x.atom("TIMESTAMP")
        incr = x.atom("INCR")
        transfer = x.atom("_VIGIE_CLIPBOARD")
        stamp = x.atom("_VIGIE_TIMESTAMP")
        window = xcb_generate_id(c)
        var events = XCB_EVENT_MASK_PROPERTY_CHANGE.rawValue
        xcb_create_window(c, 0, window, x.root, -1, -1, 1, 1, 0, UInt16(XCB_WINDOW_CLASS_INPUT_ONLY.rawValue),
                          xcb_visualid_t(XCB_COPY_FROM_PARENT), XCB_CW_EVENT_MASK.rawValue, &events)
        if let xfixesEvent {
            ownerChange = xfixesEvent &+ UInt8(XCB_XFIXES_SELECTION_NOTIFY)
            xcb_xfixes_select_selection_input(c, window, clipboard, XCB_XFIXES_SELECTION_EVENT_MASK_SET_SELECTION_OWNER.rawValue)
        } else {
            ownerChange = nil
        }
        // Makes BIG-REQUESTS known: the largest property we may write.
        _ = xcb_get_maximum_request_length(c)
        x.flush()
    }

    // MARK: Viewer → seat

    /// The viewer's ClientCutText, Latin-1 (the classic message).
    func fromViewer(latin1 bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count <= Self.limit else { return }
        take(Array(String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) })).utf8))
    }

    /// The viewer's text from the extended clipboard: UTF-8, ended by a NUL,
    /// lines ended by CRLF (what the extension prescribes).
    func fromViewer(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count <= Self.limit else { return }
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0 { end -= 1 }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
        take(Array(text.replacingCRLF().utf8))
    }

    /// Asks the server for a timestamp (a zero-length append to a property of
    /// ours): the selections are taken when its PropertyNotify comes back.
    private func take(_ text: [UInt8]) {
        pending = text
        xcb_change_property(x.connection, UInt8(XCB_PROP_MODE_APPEND.rawValue), window, stamp, string, 8, 0, nil)
        x.flush()
    }

    private func own(at time: xcb_timestamp_t) {
        guard let text = pending else { return }
        pending = nil
        let c = x.connection
        for selection in [clipboard, primary] { xcb_set_selection_owner(c, window, selection, time) }
        owned = []
        for selection in [clipboard, primary] {
            guard let reply = xcb_get_selection_owner_reply(c, xcb_get_selection_owner(c, selection), nil) else { continue }
            if reply.pointee.owner == window { owned.insert(selection) }
            free(reply)
        }
        self.text = owned.isEmpty ? nil : text
        ownedSince = time
    }

    private func answer(_ request: xcb_selection_request_event_t) {
        let c = x.connection
        var property = request.property == xcb_atom_t(XCB_NONE) ? request.target : request.property
        let late = request.time != xcb_timestamp_t(XCB_CURRENT_TIME) && request.time < ownedSince
        if let text, owned.contains(request.selection), !late {
            var data: [UInt8]? = nil
            var values: [UInt32]? = nil
            var type = request.target
            switch request.target {
            case targets:
                values = [targets, timestamp, utf8, string]
                type = xcb_atom_t(XCB_ATOM_ATOM.rawValue)
            case timestamp:
                values = [ownedSince]
                type = xcb_atom_t(XCB_ATOM_INTEGER.rawValue)
            case utf8:
                data = text
            case string:
                data = Self.latin1(text)
            default:
                break
            }
            // No INCR: what does not fit one request is refused.
            let room = Int(xcb_get_maximum_request_length(c)) * 4 - 32
            if let data, data.count <= room {
                x.setProperty(request.requestor, property, type: type, bytes: data)
            } else if let values {
                x.setProperty(request.requestor, property, type: type, values: values)
            } else {
                property = xcb_atom_t(XCB_NONE)
            }
        } else {
            property = xcb_atom_t(XCB_NONE)
        }
        var notify = xcb_selection_notify_event_t()
        notify.response_type = UInt8(XCB_SELECTION_NOTIFY)
        notify.time = request.time
        notify.requestor = request.requestor
        notify.selection = request.selection
        notify.target = request.target
        notify.property = property
        withUnsafeBytes(of: &notify) { raw in
            _ = xcb_send_event(c, 0, request.requestor, XCB_EVENT_MASK_NO_EVENT.rawValue,
                               raw.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        x.flush()
    }

    // MARK: Seat → viewer

    private func convert(_ target: xcb_atom_t, at time: xcb_timestamp_t) {
        converting = time
        xcb_convert_selection(x.connection, window, clipboard, target, transfer, time)
        x.flush()
    }

    private func converted(_ notify: xcb_selection_notify_event_t) {
        guard notify.requestor == window, notify.selection == clipboard else { return }
        if notify.property == xcb_atom_t(XCB_NONE) {
            if notify.target == utf8 { convert(string, at: converting) }
            return
        }
        let c = x.connection
        // One unit more than the limit: what is past it shows as bytes_after.
        let cookie = xcb_get_property(c, 1, window, transfer, xcb_atom_t(XCB_GET_PROPERTY_TYPE_ANY.rawValue),
                                      0, UInt32(Self.limit / 4 + 1))
        guard let reply = xcb_get_property_reply(c, cookie, nil) else { return }
        defer { free(reply) }
        let r = reply.pointee
        let length = Int(xcb_get_property_value_length(reply))
        guard r.type != incr, r.format == 8, r.bytes_after == 0, length <= Self.limit,
              r.type == utf8 || r.type == string, let value = xcb_get_property_value(reply)
        else {
            // Not deleted by the read when something was left past the limit.
            xcb_delete_property(c, window, transfer)
            x.flush()
            return
        }
        let bytes = UnsafeBufferPointer(start: value.assumingMemoryBound(to: UInt8.self), count: length)
        if r.type == utf8 {
            toViewer = Array(String(decoding: bytes, as: UTF8.self).utf8)
        } else {
            toViewer = Array(String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) })).utf8)
        }
        tick()
    }

    /// Sends the seat's text once the viewer is past its handshake
    /// (LibVNCServer would write it into the handshake otherwise).
    func tick() {
        guard let text = toViewer else { return }
        var ready = false
        let clients = rfbGetClientIterator(screen)
        while let cl = rfbClientIteratorNext(clients) {
            if cvnc_client_ready(cl) != 0 { ready = true }
        }
        rfbReleaseClientIterator(clients)
        guard ready else { return }
        toViewer = nil
        var crlf = Array(String(decoding: text, as: UTF8.self).replacingLF().utf8)
        var latin1 = Self.latin1(text)
        crlf.withUnsafeMutableBufferPointer { u in
            latin1.withUnsafeMutableBufferPointer { l in
                u.withMemoryRebound(to: CChar.self) { u in
                    l.withMemoryRebound(to: CChar.self) { l in
                        cvnc_send_cut_text(screen, u.baseAddress, Int32(u.count), l.baseAddress, Int32(l.count))
                    }
                }
            }
        }
    }

    // MARK: Events

    /// Handles the events of the selections and of our window; false for others.
    @discardableResult
    func handle(_ event: UnsafeMutablePointer<xcb_generic_event_t>) -> Bool {
        let type = event.pointee.response_type & 0x7F
        let raw = UnsafeMutableRawPointer(event)
        switch type {
        case UInt8(XCB_SELECTION_REQUEST):
            answer(raw.load(as: xcb_selection_request_event_t.self))
        case UInt8(XCB_SELECTION_CLEAR):
            let clear = raw.load(as: xcb_selection_clear_event_t.self)
            owned.remove(clear.selection)
            if owned.isEmpty { text = nil }
        case UInt8(XCB_SELECTION_NOTIFY):
            converted(raw.load(as: xcb_selection_notify_event_t.self))
        case UInt8(XCB_PROPERTY_NOTIFY):
            let change = raw.load(as: xcb_property_notify_event_t.self)
            if change.window == window, change.atom == stamp { own(at: change.time) }
        case ownerChange:
            let change = raw.load(as: xcb_xfixes_selection_notify_event_t.self)
            // Our own taking (the viewer's text) is not sent back.
            if change.owner != window, change.owner != xcb_window_t(XCB_NONE) {
                convert(utf8, at: change.selection_timestamp)
            }
        default:
            return false
        }
        return true
    }

    /// Text as ICCCM's STRING (Latin-1): what Latin-1 lacks becomes `?`.
    static func latin1(_ utf8: [UInt8]) -> [UInt8] {
        String(decoding: utf8, as: UTF8.self).unicodeScalars.map { $0.value < 256 ? UInt8($0.value) : UInt8(ascii: "?") }
    }
}

private extension String {
    /// X's line ends (LF) from the extended clipboard's (CRLF).
    func replacingCRLF() -> String {
        var out = String.UnicodeScalarView()
        var previousCR = false
        for scalar in unicodeScalars {
            if previousCR, scalar != "\n" { out.append("\r") }
            previousCR = scalar == "\r"
            if !previousCR { out.append(scalar) }
        }
        if previousCR { out.append("\r") }
        return String(out)
    }

    /// The extended clipboard's line ends (CRLF) from X's (LF).
    func replacingLF() -> String {
        var out = String.UnicodeScalarView()
        var previous: Unicode.Scalar?
        for scalar in unicodeScalars {
            if scalar == "\n", previous != "\r" { out.append("\r") }
            out.append(scalar)
            previous = scalar
        }
        return String(out)
    }
}
