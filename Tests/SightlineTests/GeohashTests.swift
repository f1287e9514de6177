import Testing
import Glibc
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct GeohashTests {
    @Test func matchesTheStandard() throws {
        #expect(try Geohash(latitude: 57.64911, longitude: 10.40744, precision: 11).description == "u4pruydqqvj")
        #expect(try Geohash(latitude: 57.64911, longitude: 10.40744, precision: 5).description == "u4pru")
        #expect(try Geohash(latitude: 0, longitude: 0, precision: 1).description == "s")
        #expect(try Geohash(latitude: -90, longitude: -180, precision: 2).description == "00")
        #expect(try Geohash(latitude: 90, longitude: 180, precision: 2).description == "zz")
    }

    @Test func stringsRoundTripAndBoundsHoldThePoint() throws {
        var g = SplitMix64(seed: 12)
        for _ in 0..<2000 {
            let lat = g.unit() * 180 - 90, lon = g.unit() * 360 - 180
            let precision = 1 + Int(g.next() % 12)
            let cell = try Geohash(latitude: lat, longitude: lon, precision: precision)
            #expect(Geohash(cell.description) == cell)
            let b = cell.bounds
            #expect(lat >= b.south && lat <= b.north && lon >= b.west && lon <= b.east)
            if precision > 1 {
                let parent = cell.parent(precision: precision - 1)
                #expect(cell.description.hasPrefix(parent.description))
                #expect(parent < cell)
            }
        }
        #expect(Geohash("u4pA") == nil && Geohash("") == nil && Geohash(String(repeating: "b", count: 13)) == nil)
        #expect(throws: SightlineError.self) { try Geohash(latitude: 91, longitude: 0, precision: 5) }
        #expect(throws: SightlineError.self) { try Geohash(latitude: 0, longitude: 0, precision: 13) }
    }
}
