/// Text sent by a person, made safe to draw on a seat: what the seat shows is
/// what was sent. Control characters become their visible symbols (U+2400
/// block: ␛ for ESC, ␇ for BEL, ␡ for DEL; a newline stays a line break),
/// and C1 controls and bidirectional marks, embeddings, overrides and isolates
/// (U+061C, U+200E–200F, U+202A–202E, U+2066–2069) become `\u{202E}`, so
/// that no text can reorder or hide what is around it.
public func visibleText(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        let v = scalar.value
        switch v {
        case 0x0A:
            out.append(scalar)
        case 0x00...0x1F:
            out.append(Unicode.Scalar(0x2400 + v)!)
        case 0x7F:
            out.append(Unicode.Scalar(0x2421)!)
        case 0x80...0x9F, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069:
            var hex = String(v, radix: 16, uppercase: true)
            while hex.count < 4 { hex = "0" + hex }
            out.append(contentsOf: "\\u{\(hex)}".unicodeScalars)
        default:
            out.append(scalar)
        }
    }
    return String(out)
}
