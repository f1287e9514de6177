import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct AreaTests {
    @Test func boxEdgesAreInclusiveAndTheAntimeridianWraps() throws {
        let box = try Area.box(south: 10, west: 20, north: 11, east: 21).validated()
        #expect(box.contains(latitude: 10, longitude: 20) && box.contains(latitude: 11, longitude: 21))
        #expect(!box.contains(latitude: 11.0000001, longitude: 21) && !box.contains(latitude: 10.5, longitude: 19.9999999))
        let wrapping = try Area.box(south: -10, west: 170, north: 10, east: -170).validated()
        #expect(wrapping.contains(latitude: 0, longitude: 180) && wrapping.contains(latitude: 0, longitude: -180))
        #expect(wrapping.contains(latitude: 0, longitude: 175) && wrapping.contains(latitude: 0, longitude: -175))
        #expect(!wrapping.contains(latitude: 0, longitude: 0) && !wrapping.contains(latitude: 0, longitude: 169))
        #expect(wrapping.coveringBoxes.count == 2)
        #expect(box.contains(latitudeE7: 100_000_000, longitudeE7: 210_000_000))
    }

    @Test func circlesUseHaversineDistance() throws {
        // One degree of latitude is 111,195.0802 m on this sphere.
        let c = try Area.circle(latitude: 0, longitude: 0, metres: 111_195.081).validated()
        #expect(c.contains(latitude: 1, longitude: 0) && c.contains(latitude: 0, longitude: -1))
        #expect(!c.contains(latitude: 1.0001, longitude: 0) && !c.contains(latitude: 0.8, longitude: 0.8))
        #expect(abs(Area.haversineMetres(0, 0, 0, 180) - .pi * Area.earthRadius) < 1e-6)
        #expect(Area.haversineMetres(51.5, -0.12, 51.5, -0.12) == 0)
    }

    @Test func polygonsFollowTheEvenOddRule() throws {
        // A "U" shape: the notch is outside.
        let u = try Area.polygon([(0, 0), (0, 3), (3, 3), (3, 2), (1, 2), (1, 1), (3, 1), (3, 0)]
            .map { Area.Vertex(latitude: Double($0.0), longitude: Double($0.1)) }).validated()
        #expect(u.contains(latitude: 0.5, longitude: 1.5) && u.contains(latitude: 2, longitude: 0.5) && u.contains(latitude: 2, longitude: 2.5))
        #expect(!u.contains(latitude: 2, longitude: 1.5) && !u.contains(latitude: 4, longitude: 1) && !u.contains(latitude: 1.5, longitude: -1))
    }

    @Test func malformedAreasAreRejected() {
        #expect(throws: SightlineError.self) { try Area.box(south: 2, west: 0, north: 1, east: 1).validated() }
        #expect(throws: SightlineError.self) { try Area.box(south: 0, west: 0, north: 91, east: 1).validated() }
        #expect(throws: SightlineError.self) { try Area.circle(latitude: 0, longitude: 0, metres: 0).validated() }
        #expect(throws: SightlineError.self) { try Area.circle(latitude: 0, longitude: 0, metres: -5).validated() }
        #expect(throws: SightlineError.self) { try Area.circle(latitude: .nan, longitude: 0, metres: 5).validated() }
        #expect(throws: SightlineError.self) { try Area.polygon([.init(latitude: 0, longitude: 0), .init(latitude: 1, longitude: 1)]).validated() }
    }

    /// What an index relies on: every point an area contains lies in one of its covering boxes.
    @Test func coveringBoxesCoverEveryContainedPoint() throws {
        var g = SplitMix64(seed: 99)
        var checked = 0
        for trial in 0..<400 {
            let lat = trial % 5 == 0 ? (g.unit() < 0.5 ? 89.9 : -89.9) : g.unit() * 170 - 85
            let lon = trial % 4 == 0 ? (g.unit() < 0.5 ? 179.95 : -179.95) : g.unit() * 360 - 180
            let areas: [Area] = [
                .circle(latitude: lat, longitude: lon, metres: [10, 1000, 50_000, 2_000_000][trial % 4]),
                .box(south: lat - 0.5, west: lon, north: min(90, lat + 0.5), east: lon + 1 > 180 ? lon + 1 - 360 : lon + 1),
                .polygon([.init(latitude: lat, longitude: lon), .init(latitude: max(-90, lat - 1), longitude: min(180, lon + 0.7)),
                          .init(latitude: min(90, lat + 0.4), longitude: max(-180, lon - 0.3))]),
            ]
            for area in areas {
                let boxes = area.coveringBoxes
                for _ in 0..<200 {
                    // Points near the area: a random offset of up to ~2 × its size.
                    let span = 0.01 + Double(trial % 4) * 6
                    let pLat = max(-90, min(90, lat + (g.unit() * 2 - 1) * span))
                    var pLon = lon + (g.unit() * 2 - 1) * span * 3
                    if pLon > 180 { pLon -= 360 } else if pLon < -180 { pLon += 360 }
                    let latE7 = Int32((pLat * coordinateScale).rounded()), lonE7 = Int32((pLon * coordinateScale).rounded())
                    guard area.contains(latitudeE7: latE7, longitudeE7: lonE7) else { continue }
                    checked += 1
                    let covered = boxes.contains { b in
                        latE7 >= b.minLatitudeE7 && latE7 <= b.maxLatitudeE7 && lonE7 >= b.minLongitudeE7 && lonE7 <= b.maxLongitudeE7
                    }
                    #expect(covered, "\(area) holds (\(pLat), \(pLon)) outside its covering boxes \(boxes)")
                }
            }
        }
        #expect(checked > 5000, "only \(checked) contained points were checked")
    }
}
