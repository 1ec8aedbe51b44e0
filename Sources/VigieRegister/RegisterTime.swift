import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The register's two time formats, written by hand (fixed width, so that
/// UTC times sort as strings): `2026-11-23T09:02:00.123Z` and
/// `2026-11-23T10:02:00.123+01:00`.
public enum RegisterTime {
    /// The UTC form, millisecond precision (truncated), always 24 characters.
    public static func utc(_ date: Date) -> String {
        let (seconds, millis) = split(date)
        return format(seconds, millis: millis, offset: nil)
    }

    /// The local form in `timeZone`, with its offset from UTC at that instant.
    public static func local(_ date: Date, _ timeZone: TimeZone) -> String {
        let (seconds, millis) = split(date)
        let offset = timeZone.secondsFromGMT(for: date)
        return format(seconds + Int64(offset), millis: millis, offset: offset)
    }

    /// Parses the UTC form; nil when `text` is not exactly that form.
    public static func parseUTC(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A,
            b[19] == 0x2E, b[23] == 0x5A
        else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
            let mi = num(14..<16), let s = num(17..<19), let ms = num(20..<23),
            (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 60
        else { return nil }
        let days = daysFromCivil(y, mo, d)
        let seconds = Int64(days) * 86_400 + Int64(h * 3600 + mi * 60 + s)
        let date = Date(timeIntervalSince1970: Double(seconds) + Double(ms) / 1000)
        // Reject dates like 2026-02-31 that do not round-trip.
        return utc(date) == text ? date : nil
    }

    static func split(_ date: Date) -> (Int64, Int) {
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = totalMillis >= 0 ? totalMillis / 1000 : (totalMillis - 999) / 1000
        return (seconds, Int(totalMillis - seconds * 1000))
    }

    static func format(_ seconds: Int64, millis: Int, offset: Int?) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = Int(seconds - days * 86_400)
        let (y, m, d) = civilFromDays(Int(days))
        var s = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
        s += pad(rest / 3600, 2) + ":" + pad(rest / 60 % 60, 2) + ":" + pad(rest % 60, 2) + "." + pad(millis, 3)
        guard let offset else { return s + "Z" }
        let sign = offset < 0 ? "-" : "+"
        let a = abs(offset)
        return s + sign + pad(a / 3600, 2) + ":" + pad(a / 60 % 60, 2)
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let t = String(v)
        return t.count >= width ? t : String(repeating: "0", count: width - t.count) + t
    }

    // Howard Hinnant's civil-date algorithms (proleptic Gregorian).
    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
