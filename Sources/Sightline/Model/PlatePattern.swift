/// A partial plate: plate characters, `?` for exactly one character, `*` for any run of zero
/// or more; normalized like plates (letters uppercased, spaces and hyphens removed). With an
/// `OCREquivalence`, characters of one class match one another (`8` matches `B`). A plate
/// without wildcards is a pattern too (exact, or all its OCR look-alikes).
public struct PlatePattern: Sendable, Hashable, CustomStringConvertible {
    /// The normalized pattern text.
    public let text: String
    /// The confusion classes applied, if any.
    public let equivalence: OCREquivalence?
    /// Pattern bytes with characters replaced by their class representative.
    @usableFromInline let bytes: [UInt8]

    @usableFromInline static let one = UInt8(ascii: "?")
    @usableFromInline static let any = UInt8(ascii: "*")

    /// Parses `text`.
    /// - Throws: `invalidArgument` when it is empty, holds characters other than A–Z, 0–9,
    ///   `?`, `*`, space and hyphen, or can only match plates longer than `Plate.maximumLength`.
    public init(_ text: String, equivalence: OCREquivalence? = nil) throws(SightlineError) {
        var bytes: [UInt8] = []
        for var b in text.utf8 {
            if b == 0x20 || b == 0x2D { continue }
            if b >= 0x61 && b <= 0x7A { b -= 0x20 }
            guard (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == Self.one || b == Self.any else {
                throw .invalidArgument("plate pattern \"\(text)\": only letters, digits, ? and * are allowed")
            }
            if b == Self.any && bytes.last == Self.any { continue }  // ** is *
            bytes.append(b)
        }
        guard !bytes.isEmpty else { throw .invalidArgument("plate pattern \"\(text)\" is empty") }
        guard bytes.filter({ $0 != Self.any }).count <= Plate.maximumLength else {
            throw .invalidArgument("plate pattern \"\(text)\" needs more than \(Plate.maximumLength) characters")
        }
        self.text = String(decoding: bytes, as: UTF8.self)
        self.equivalence = equivalence
        self.bytes = equivalence.map { e in bytes.map { $0 == Self.one || $0 == Self.any ? $0 : e.representative($0) } } ?? bytes
    }

    /// The pattern's text (`--equivalent` patterns add ` (OCR-equivalent)`).
    public var description: String { equivalence == nil ? text : "\(text) (OCR-equivalent)" }

    /// Characters the pattern fixes (neither `?` nor `*`).
    public var knownCharacters: Int { bytes.filter { $0 != Self.one && $0 != Self.any }.count }

    /// Whether `plate` matches (the brute-force definition every path must agree with).
    @inlinable
    public func matches(_ plate: Plate) -> Bool {
        // Iterative glob matching with one backtrack point (the last `*`): O(pattern × plate).
        let n = Int(plate.count), m = bytes.count
        var i = 0, j = 0, star = -1, mark = 0
        while i < n {
            let c = equivalence.map { $0.representative(plate[i]) } ?? plate[i]
            if j < m && (bytes[j] == Self.one || bytes[j] == c) {
                i += 1; j += 1
            } else if j < m && bytes[j] == Self.any {
                star = j; mark = i; j += 1
            } else if star >= 0 {
                j = star + 1; mark += 1; i = mark
            } else {
                return false
            }
        }
        while j < m && bytes[j] == Self.any { j += 1 }
        return j == m
    }
}
