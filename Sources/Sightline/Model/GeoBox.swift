// Geometry shared by every layer: segment statistics, the spatial index, areas.

/// A latitude/longitude box in 1e-7 degree, edges inclusive.
public struct GeoBox: Sendable, Hashable {
    /// Southern edge, 1e-7 degree.
    public var minLatitudeE7: Int32
    /// Western edge (numeric minimum), 1e-7 degree.
    public var minLongitudeE7: Int32
    /// Northern edge, 1e-7 degree.
    public var maxLatitudeE7: Int32
    /// Eastern edge (numeric maximum), 1e-7 degree.
    public var maxLongitudeE7: Int32

    /// A box from its corners.
    public init(minLatitudeE7: Int32, minLongitudeE7: Int32, maxLatitudeE7: Int32, maxLongitudeE7: Int32) {
        self.minLatitudeE7 = minLatitudeE7
        self.minLongitudeE7 = minLongitudeE7
        self.maxLatitudeE7 = maxLatitudeE7
        self.maxLongitudeE7 = maxLongitudeE7
    }

    /// The empty box (min > max), the identity of `formUnion`.
    public static let empty = GeoBox(minLatitudeE7: .max, minLongitudeE7: .max, maxLatitudeE7: .min, maxLongitudeE7: .min)

    /// True when the box holds no point.
    public var isEmpty: Bool { minLatitudeE7 > maxLatitudeE7 }

    @inline(__always)
    package mutating func include(latitudeE7: Int32, longitudeE7: Int32) {
        minLatitudeE7 = min(minLatitudeE7, latitudeE7)
        maxLatitudeE7 = max(maxLatitudeE7, latitudeE7)
        minLongitudeE7 = min(minLongitudeE7, longitudeE7)
        maxLongitudeE7 = max(maxLongitudeE7, longitudeE7)
    }

    package mutating func formUnion(_ other: GeoBox) {
        minLatitudeE7 = min(minLatitudeE7, other.minLatitudeE7)
        maxLatitudeE7 = max(maxLatitudeE7, other.maxLatitudeE7)
        minLongitudeE7 = min(minLongitudeE7, other.minLongitudeE7)
        maxLongitudeE7 = max(maxLongitudeE7, other.maxLongitudeE7)
    }
}

extension GeoBox {
    /// Whether `other` lies wholly inside this box.
    public func contains(_ other: GeoBox) -> Bool {
        !other.isEmpty && minLatitudeE7 <= other.minLatitudeE7 && other.maxLatitudeE7 <= maxLatitudeE7
            && minLongitudeE7 <= other.minLongitudeE7 && other.maxLongitudeE7 <= maxLongitudeE7
    }

    /// Whether two boxes share at least a point (edges inclusive).
    public func intersects(_ other: GeoBox) -> Bool {
        !isEmpty && !other.isEmpty
            && minLatitudeE7 <= other.maxLatitudeE7 && other.minLatitudeE7 <= maxLatitudeE7
            && minLongitudeE7 <= other.maxLongitudeE7 && other.minLongitudeE7 <= maxLongitudeE7
    }
}
