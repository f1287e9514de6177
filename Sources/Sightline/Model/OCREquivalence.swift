/// Characters a plate reader confuses, as classes: characters of one class match one another
/// in equivalent plate search (and in hotlist rules: one definition for both).
///
/// The default classes are `0 O Q D`, `1 I L`, `2 Z`, `5 S`, `8 B`, `6 G`.
public struct OCREquivalence: Sendable, Hashable {
    /// The classes, each a string of plate characters (A–Z, 0–9).
    public let classes: [String]
    /// For each ASCII byte, its class's representative (the first character of the class),
    /// or the byte itself when it is in no class.
    @usableFromInline let canonical: [UInt8]

    /// The readers' usual confusions.
    public static let `default` = try! OCREquivalence(classes: ["0OQD", "1IL", "2Z", "5S", "8B", "6G"])

    /// Classes given as strings of plate characters; a character may be in one class only.
    /// - Throws: `invalidArgument` for a character outside A–Z and 0–9, or in two classes.
    public init(classes: [String]) throws(SightlineError) {
        var table = (0..<128).map { UInt8($0) }
        var seen = Set<UInt8>()
        for c in classes {
            let bytes = Array(c.uppercased().utf8)
            guard let first = bytes.first else { continue }
            for b in bytes {
                guard (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) else {
                    throw .invalidArgument("OCR class \"\(c)\": only A–Z and 0–9")
                }
                guard seen.insert(b).inserted else { throw .invalidArgument("OCR classes: \(Character(UnicodeScalar(b))) is in two classes") }
                table[Int(b)] = first
            }
        }
        self.classes = classes.map { $0.uppercased() }
        canonical = table
    }

    /// The class representative of an ASCII plate character.
    @inlinable
    public func representative(_ byte: UInt8) -> UInt8 { byte < 128 ? canonical[Int(byte)] : byte }
}
