import Sightline
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Generates dense vehicle tracks, the shape of fleet telematics: each vehicle reports a GPS
/// fix every 1–5 s (its own interval), moving at a smoothly varying speed and heading.
/// Fixes carry whole-second times and 6-decimal coordinates, as telematics units report them;
/// the device id is the camera, confidence is 100.
public struct DenseTrackWorkload: Sendable {
    /// Parameters of the model.
    public struct Configuration: Sendable, Hashable {
        /// Seed of the generator.
        public var seed: UInt64 = 7
        /// Vehicles; rows are split evenly between them.
        public var vehicles: Int = 500
        /// Earliest day, epoch milliseconds.
        public var startTime: Int64 = 1_717_200_000_000
        /// Centre latitude, degrees.
        public var centerLatitude: Double = 37.55
        /// Centre longitude, degrees.
        public var centerLongitude: Double = -122.10
        /// The defaults.
        public init() {}
    }

    /// The parameters in use.
    public let configuration: Configuration

    /// A workload with `configuration`.
    public init(_ configuration: Configuration = Configuration()) { self.configuration = configuration }

    /// Exactly `rows` fixes, vehicle after vehicle.
    public func generate(rows: Int) -> SightingBatch {
        let c = configuration
        var batch = SightingBatch(capacity: rows)
        var g = SplitMix64(seed: c.seed)
        let perVehicle = max(1, (rows + c.vehicles - 1) / c.vehicles)
        var vehicle = 0
        while batch.count < rows {
            let plateBytes = ALPRWorkload.plateBytes(&g)
            let plate = plateBytes.withUnsafeBytes { Plate(uncheckedNormalized: $0) }
            let interval = Int64(1 + g.next() % 5) * 1000
            var time = c.startTime + Int64(g.next() % 86_400) * 1000
            var lat = c.centerLatitude + g.normal(deviation: 0.1)
            var lon = c.centerLongitude + g.normal(deviation: 0.1)
            var heading = g.unit() * 2 * .pi
            var speed = 5 + g.unit() * 20
            let metresPerDegree = 111_320.0
            for _ in 0..<min(perVehicle, rows - batch.count) {
                let latE7 = Int32((lat * 1_000_000).rounded()) * 10  // 6 decimals, as units report
                let lonE7 = Int32((lon * 1_000_000).rounded()) * 10
                batch.appendUnchecked(plate: plate, time: time, latitudeE7: latE7, longitudeE7: lonE7,
                                      camera: UInt32(500_000 + vehicle), confidence: 100, regionCode: 0, image: nil)
                let seconds = Double(interval) / 1000
                // Mostly straight roads: small heading noise, occasional turns, speed drifts.
                heading += g.unit() < 0.02 ? (g.unit() < 0.5 ? .pi / 2 : -.pi / 2) : g.normal(deviation: 0.02)
                speed = min(33, max(0, speed + g.normal(deviation: 0.8)))
                lat += cos(heading) * speed * seconds / metresPerDegree
                lon += sin(heading) * speed * seconds / (metresPerDegree * cos(lat * .pi / 180))
                lat = min(89.9, max(-89.9, lat))
                time += interval
            }
            vehicle += 1
        }
        return batch
    }
}
