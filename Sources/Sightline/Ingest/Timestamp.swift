/// Parses the times ingest accepts: integer epoch milliseconds, or RFC 3339
/// (`2024-06-01T08:00:00Z`, `2024-06-01T08:00:00.123+02:00`; fractions beyond milliseconds
/// are truncated), in years 0000–9999 (`range`). Returns nil for anything else.
public enum Timestamp {
    /// Epoch milliseconds from integer milliseconds or RFC 3339 text; nil if it is neither.
    public static func milliseconds(_ text: String) -> Int64? { parse(text.utf8[...]) }

    static func parse(_ text: Substring.UTF8View) -> Int64? {
        Array(text).withUnsafeBytes { parse($0) }
    }

    /// The times accepted: years 0000–9999, what RFC 3339 can write (an epoch count past
    /// them is a mistake in the data, and could not be printed back).
    public static let range: ClosedRange<Int64> = -62_167_219_200_000...253_402_300_799_999

    static func parse(_ b: UnsafeRawBufferPointer) -> Int64? {
        guard let t = parseUnchecked(b), range.contains(t) else { return nil }
        return t
    }

    private static func parseUnchecked(_ b: UnsafeRawBufferPointer) -> Int64? {
        guard !b.isEmpty else { return nil }
        if b.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }), b.count <= 20 {
            return Int64(String(decoding: b, as: UTF8.self))
        }
        // YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x74 || b[10] == 0x20,
              b[13] == 0x3A, b[16] == 0x3A,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var i = 19
        var millis = 0
        if i < b.count && b[i] == 0x2E {
            i += 1
            var digits = 0
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 {
                if digits < 3 { millis = millis * 10 + Int(b[i] - 0x30) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 3 { for _ in digits..<3 { millis *= 10 } }
        }
        guard i < b.count else { return nil }
        var offsetMinutes = 0
        if b[i] == 0x5A || b[i] == 0x7A {
            i += 1
        } else if b[i] == 0x2B || b[i] == 0x2D, let h = number(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let m = number(i + 4, 2) {
            offsetMinutes = (h * 60 + m) * (b[i] == 0x2D ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return seconds * 1000 + Int64(millis)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's inverse).
    static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// RFC 3339 UTC with milliseconds: `2024-06-01T08:00:00.123Z`.
    public static func rfc3339(_ milliseconds: Int64) -> String {
        // Floor divisions written so that no intermediate overflows, even at Int64.min.
        let ms = Int((milliseconds % 1000 + 1000) % 1000)
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : -((-(milliseconds + 1)) / 1000) - 1
        let secondOfDay = Int((seconds % 86_400 + 86_400) % 86_400)
        let days = Int(seconds >= 0 ? seconds / 86_400 : -((-(seconds + 1)) / 86_400) - 1)
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int, _ w: Int) -> String { let t = String(v); return String(repeating: "0", count: max(0, w - t.count)) + t }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(ms, 3))Z"
    }
}
