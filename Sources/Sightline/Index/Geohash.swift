/// A geohash cell: the standard base-32 geohash (Niemeyer, 2008), kept as its interleaved
/// bits so cells compare, sort and prefix-match as integers. Bits alternate longitude,
/// latitude, longitude first, each bisecting the cell's current interval.
public struct Geohash: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The standard alphabet (no a, i, l, o).
    static let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)

    /// The cell's bits, right-aligned: the first (coarsest) bit is bit `bitCount - 1`.
    public let bits: UInt64
    /// Number of bits: 5 per character, 0…60.
    public let bitCount: Int

    /// Characters of the string form.
    public var precision: Int { bitCount / 5 }

    /// The cell of `precision` characters (1…12) containing the point.
    public init(latitude: Double, longitude: Double, precision: Int) throws(SightlineError) {
        guard (1...12).contains(precision) else { throw .invalidArgument("geohash precision must be 1…12, got \(precision)") }
        guard latitude.isFinite, longitude.isFinite, (-90...90).contains(latitude), (-180...180).contains(longitude) else {
            throw .invalidArgument("geohash of (\(latitude), \(longitude)): outside the world")
        }
        var latLow = -90.0, latHigh = 90.0, lonLow = -180.0, lonHigh = 180.0
        var bits: UInt64 = 0
        for i in 0..<(precision * 5) {
            if i % 2 == 0 {
                let mid = (lonLow + lonHigh) / 2
                if longitude >= mid { bits = bits << 1 | 1; lonLow = mid } else { bits <<= 1; lonHigh = mid }
            } else {
                let mid = (latLow + latHigh) / 2
                if latitude >= mid { bits = bits << 1 | 1; latLow = mid } else { bits <<= 1; latHigh = mid }
            }
        }
        self.bits = bits
        self.bitCount = precision * 5
    }

    /// The cell containing a stored position (1e-7 degree).
    public init(latitudeE7: Int32, longitudeE7: Int32, precision: Int) throws(SightlineError) {
        try self.init(latitude: Double(latitudeE7) / coordinateScale, longitude: Double(longitudeE7) / coordinateScale, precision: precision)
    }

    /// Parses a geohash string (case-insensitive); nil when it has a character outside the
    /// alphabet or more than 12 characters.
    public init?(_ text: String) {
        let chars = Array(text.lowercased().utf8)
        guard !chars.isEmpty && chars.count <= 12 else { return nil }
        var bits: UInt64 = 0
        for c in chars {
            guard let v = Self.alphabet.firstIndex(of: c) else { return nil }
            bits = bits << 5 | UInt64(v)
        }
        self.bits = bits
        self.bitCount = chars.count * 5
    }

    /// The string form.
    public var description: String {
        var out: [UInt8] = []
        for k in (0..<precision).reversed() { out.append(Self.alphabet[Int((bits >> UInt64(5 * k)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The cell's bounds in degrees: (south, west, north, east). Points on the south and west
    /// edges belong to the cell; north and east edges belong to the next cell (except at 90°
    /// and 180°, which belong to the last cells).
    public var bounds: (south: Double, west: Double, north: Double, east: Double) {
        var latLow = -90.0, latHigh = 90.0, lonLow = -180.0, lonHigh = 180.0
        for i in 0..<bitCount {
            let bit = (bits >> UInt64(bitCount - 1 - i)) & 1
            if i % 2 == 0 {
                let mid = (lonLow + lonHigh) / 2
                if bit == 1 { lonLow = mid } else { lonHigh = mid }
            } else {
                let mid = (latLow + latHigh) / 2
                if bit == 1 { latLow = mid } else { latHigh = mid }
            }
        }
        return (latLow, lonLow, latHigh, lonHigh)
    }

    /// The enclosing cell of `precision` characters (≤ this one's).
    public func parent(precision: Int) -> Geohash {
        precondition(precision >= 1 && precision <= self.precision)
        return Geohash(uncheckedBits: bits >> UInt64(bitCount - precision * 5), bitCount: precision * 5)
    }

    init(uncheckedBits: UInt64, bitCount: Int) {
        self.bits = uncheckedBits
        self.bitCount = bitCount
    }

    /// Orders by the string form: a cell sorts right before the cells it contains.
    public static func < (a: Geohash, b: Geohash) -> Bool {
        let shift = UInt64(60 - a.bitCount), shiftB = UInt64(60 - b.bitCount)
        let x = a.bits << shift, y = b.bits << shiftB
        return x != y ? x < y : a.bitCount < b.bitCount
    }
}
