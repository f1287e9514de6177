import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

@Suite struct SegmentRoundTripTests {
    @Test func alprWorkloadRoundTrips() throws {
        var c = ALPRWorkload.Configuration()
        c.images = true
        let batch = ALPRWorkload(c).generate(rows: 30_000)
        let decoded = try roundTrip(batch, options: SegmentOptions(blockRows: 1024))
        #expect(decoded.count == batch.count)
        #expect(sameRows(decoded, batch.sightings))
        #expect(decoded == segmentOrder(decoded))
    }

    @Test func denseTracksRoundTrip() throws {
        let batch = DenseTrackWorkload().generate(rows: 20_000)
        let decoded = try roundTrip(batch)
        #expect(sameRows(decoded, batch.sightings))
    }
}
