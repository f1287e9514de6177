#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A region of the Earth a query asks about.
public enum Area: Sendable, Hashable {
    /// A latitude/longitude box, edges inclusive. When `west > east` the box crosses the
    /// antimeridian (it holds longitudes ≥ west and ≤ east).
    case box(south: Double, west: Double, north: Double, east: Double)
    /// Points whose great-circle (haversine) distance from the centre, on a sphere of radius
    /// `Area.earthRadius`, is at most `metres`.
    case circle(latitude: Double, longitude: Double, metres: Double)
    /// A polygon ring of (latitude, longitude) vertices, treated as planar in degrees, filled
    /// by the even–odd rule. The ring closes itself (the last vertex joins the first).
    case polygon([Vertex])

    /// A polygon vertex in degrees.
    public struct Vertex: Sendable, Hashable {
        /// Degrees north, −90…90.
        public var latitude: Double
        /// Degrees east, −180…180.
        public var longitude: Double
        /// A vertex.
        public init(latitude: Double, longitude: Double) { self.latitude = latitude; self.longitude = longitude }
    }

    /// The mean Earth radius (IUGG), metres.
    public static let earthRadius = 6_371_008.8

    /// Checks the area is well formed: coordinates in range, south ≤ north, radius > 0,
    /// a polygon of at least 3 vertices.
    public func validated() throws(SightlineError) -> Area {
        func check(_ lat: Double, _ lon: Double, _ what: String) throws(SightlineError) {
            guard lat.isFinite, lon.isFinite, (-90...90).contains(lat), (-180...180).contains(lon) else {
                throw .invalidArgument("\(what) (\(lat), \(lon)) is outside the world")
            }
        }
        switch self {
        case .box(let south, let west, let north, let east):
            try check(south, west, "south-west corner")
            try check(north, east, "north-east corner")
            guard south <= north else { throw .invalidArgument("box south \(south) is north of its north \(north)") }
        case .circle(let lat, let lon, let metres):
            try check(lat, lon, "circle centre")
            guard metres.isFinite, metres > 0 else { throw .invalidArgument("circle radius must be > 0 metres, got \(metres)") }
        case .polygon(let ring):
            guard ring.count >= 3 else { throw .invalidArgument("a polygon needs at least 3 vertices, got \(ring.count)") }
            for (k, v) in ring.enumerated() { try check(v.latitude, v.longitude, "polygon vertex \(k)") }
        }
        return self
    }

    /// Whether the stored position (1e-7 degree) lies in the area.
    public func contains(latitudeE7: Int32, longitudeE7: Int32) -> Bool {
        contains(latitude: Double(latitudeE7) / coordinateScale, longitude: Double(longitudeE7) / coordinateScale)
    }

    /// Whether the point (degrees) lies in the area.
    public func contains(latitude: Double, longitude: Double) -> Bool {
        switch self {
        case .box(let south, let west, let north, let east):
            guard latitude >= south && latitude <= north else { return false }
            return west <= east ? (longitude >= west && longitude <= east) : (longitude >= west || longitude <= east)
        case .circle(let lat, let lon, let metres):
            return Area.haversineMetres(lat, lon, latitude, longitude) <= metres
        case .polygon(let ring):
            // Even–odd: count crossings of a ray towards +longitude.
            var inside = false
            var j = ring.count - 1
            for i in 0..<ring.count {
                let a = ring[i], b = ring[j]
                if (a.latitude > latitude) != (b.latitude > latitude) {
                    let crossing = a.longitude + (latitude - a.latitude) * (b.longitude - a.longitude) / (b.latitude - a.latitude)
                    if longitude < crossing { inside.toggle() }
                }
                j = i
            }
            return inside
        }
    }

    /// Great-circle distance in metres (haversine formula).
    public static func haversineMetres(_ lat1: Double, _ lon1: Double, _ lat2: Double, _ lon2: Double) -> Double {
        let r = Double.pi / 180
        let dLat = (lat2 - lat1) * r, dLon = (lon2 - lon1) * r
        let h = sin(dLat / 2) * sin(dLat / 2) + cos(lat1 * r) * cos(lat2 * r) * sin(dLon / 2) * sin(dLon / 2)
        return 2 * earthRadius * asin(min(1, h.squareRoot()))
    }

    /// Boxes (south, west, north, east; never crossing the antimeridian) that together cover
    /// the area: what an index prunes with. Conservative: they may hold points outside it.
    public var coveringBoxes: [GeoBox] {
        func box(_ s: Double, _ w: Double, _ n: Double, _ e: Double) -> GeoBox {
            GeoBox(minLatitudeE7: Int32((max(-90, s) * coordinateScale).rounded(.down)),
                   minLongitudeE7: Int32((max(-180, w) * coordinateScale).rounded(.down)),
                   maxLatitudeE7: Int32((min(90, n) * coordinateScale).rounded(.up)),
                   maxLongitudeE7: Int32((min(180, e) * coordinateScale).rounded(.up)))
        }
        switch self {
        case .box(let s, let w, let n, let e):
            return w <= e ? [box(s, w, n, e)] : [box(s, w, n, 180), box(s, -180, n, e)]
        case .circle(let lat, let lon, let metres):
            let angular = metres / Area.earthRadius  // radians
            // A hair of margin (1e-9 degree ≈ 0.1 mm) against floating-point rounding.
            let dLat = angular * 180 / .pi + 1e-9
            let south = lat - dLat, north = lat + dLat
            // A circle reaching a pole, or wider than a hemisphere, spans every longitude.
            if north >= 90 || south <= -90 || angular >= .pi / 2 { return [box(south, -180, north, 180)] }
            // Widest longitude extent at the circle's tangent latitude (exact on the sphere).
            let dLon = asin(min(1, sin(angular) / cos(lat * .pi / 180))) * 180 / .pi + 1e-9
            let west = lon - dLon, east = lon + dLon
            if west < -180 { return [box(south, west + 360, north, 180), box(south, -180, north, east)] }
            if east > 180 { return [box(south, west, north, 180), box(south, -180, north, east - 360)] }
            return [box(south, west, north, east)]
        case .polygon(let ring):
            var s = 90.0, w = 180.0, n = -90.0, e = -180.0
            for v in ring {
                s = min(s, v.latitude); n = max(n, v.latitude)
                w = min(w, v.longitude); e = max(e, v.longitude)
            }
            return [box(s, w, n, e)]
        }
    }
}
