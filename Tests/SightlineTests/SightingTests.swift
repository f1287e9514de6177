import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct SightingValidationTests {
    let plate = try! Plate("ABC123")

    @Test func acceptsTheEdgesOfTheWorld() throws {
        for (lat, lon) in [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0), (89.9999999, -179.9999999)] {
            let s = try Sighting(plate: plate, time: 0, latitude: lat, longitude: lon, camera: 1, confidence: 100)
            #expect(abs(s.latitude - lat) < 1e-7 && abs(s.longitude - lon) < 1e-7)
        }
    }

    @Test func rejectsOutOfRangeFields() {
        #expect(throws: SightlineError.self) { try Sighting(plate: plate, time: 0, latitude: 90.0000001, longitude: 0, camera: 1, confidence: 1) }
        #expect(throws: SightlineError.self) { try Sighting(plate: plate, time: 0, latitude: 0, longitude: -180.1, camera: 1, confidence: 1) }
        #expect(throws: SightlineError.self) { try Sighting(plate: plate, time: 0, latitude: .nan, longitude: 0, camera: 1, confidence: 1) }
        #expect(throws: SightlineError.self) { try Sighting(plate: plate, time: 0, latitude: 0, longitude: 0, camera: 1, confidence: 101) }
        #expect(throws: SightlineError.self) {
            try Sighting(plate: plate, time: 0, latitude: 0, longitude: 0, camera: 1, confidence: 1, image: String(repeating: "x", count: 1025))
        }
        #expect(throws: SightlineError.self) { try Sighting(plate: plate, time: 0, latitude: 0, longitude: 0, camera: 1, confidence: 1, image: "") }
    }

    @Test func regions() throws {
        #expect(try Region("ca").text == "CA")
        #expect(try Region("NSW").text == "NSW")
        #expect(throws: SightlineError.self) { try Region("ABCD") }
        #expect(throws: SightlineError.self) { try Region("C1") }
        #expect(throws: SightlineError.self) { try Region("") }
        #expect(Region(code: 0) == nil)
        #expect(Region(code: try Region("TX").code)?.text == "TX")
    }
}
