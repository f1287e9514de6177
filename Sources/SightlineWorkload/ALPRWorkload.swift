import Sightline
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Generates ALPR-like sightings, deterministically for a seed.
///
/// The model (Docs/workload.md describes and justifies it):
/// - a city of `arterialRoads` straight arterial roads crossing a square of `citySizeKm`;
///   `fixedCameras` cameras stand on them at fixed positions;
/// - each plate makes a number of trips over `days` days drawn from a Zipf law
///   (P(t) ∝ t^-`tripExponent`, 1...`maximumTrips`); a trip follows one road past 1–5
///   consecutive cameras at 8–25 m/s, starting at a time drawn with morning and evening
///   commute peaks; 70 % of trips are on the plate's home road;
/// - a share `mobileShare` of reads come from `mobileReaders` patrol and repossession cars
///   reading the plate parked within ~50 m of its home, at a GPS position of their own;
/// - a share `misreadRate` of reads swap one character for its OCR twin (O/0, B/8, I/1, S/5, Z/2);
/// - confidence is mostly 80–99, sometimes 40–79; a region is read on `regionShare` of reads.
public struct ALPRWorkload: Sendable {
    /// Parameters of the model.
    public struct Configuration: Sendable, Hashable {
        /// Seed of the generator: same seed, same rows.
        public var seed: UInt64 = 1
        /// Seed of the city (roads and cameras) alone, so a live feed can vary `seed` batch
        /// by batch while its cameras stay put. `nil`: derived from `seed`.
        public var citySeed: UInt64?
        /// Days covered.
        public var days: Int = 30
        /// First day, epoch milliseconds (2024-06-01T00:00:00Z).
        public var startTime: Int64 = 1_717_200_000_000
        /// Fixed cameras on the arterial roads.
        public var fixedCameras: Int = 2000
        /// Mobile readers (patrol, repossession cars).
        public var mobileReaders: Int = 200
        /// Straight arterial roads across the city.
        public var arterialRoads: Int = 60
        /// Side of the square city, km.
        public var citySizeKm: Double = 40
        /// City centre latitude, degrees.
        public var centerLatitude: Double = 37.55
        /// City centre longitude, degrees.
        public var centerLongitude: Double = -122.10
        /// Zipf exponent of trips per plate.
        public var tripExponent: Double = 1.6
        /// Most trips a plate makes.
        public var maximumTrips: Int = 240
        /// Share of rows read by mobile readers.
        public var mobileShare: Double = 0.10
        /// Share of reads with one OCR-confused character.
        public var misreadRate: Double = 0.02
        /// Share of reads with the region read.
        public var regionShare: Double = 0.6
        /// Attach an image URI to every read (off by default: URIs dominate the size).
        public var images: Bool = false

        /// The defaults described above.
        public init() {}
    }

    struct Road { var lat0, lon0, dLat, dLon: Double; var cameraIndexes: [Int] }

    /// Batch `number` of a live feed from one city: a day of reads starting `number` hours
    /// after the first batch's, so each batch overlaps the previous ones in time (reads
    /// arrive up to a day late, as mobile readers upload). Deterministic for (seed, number).
    public static func liveFeedBatch(number: UInt64, rows: Int, seed: UInt64 = 1) -> SightingBatch {
        var c = Configuration()
        c.seed = (seed &* 1_000_003) &+ number &+ 1
        c.citySeed = seed
        c.days = 1
        c.startTime += Int64(number) * 3_600_000
        return ALPRWorkload(c).generate(rows: rows)
    }

    /// The parameters in use.
    public let configuration: Configuration
    private let roads: [Road]
    private let cameraLatitudes: [Int32]
    private let cameraLongitudes: [Int32]
    private let cameraIDs: [UInt32]
    private let trips: ZipfDistribution

    /// A workload with `configuration`.
    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        var g = SplitMix64(seed: (configuration.citySeed ?? configuration.seed) ^ 0xC0FFEE)
        let halfLat = configuration.citySizeKm / 2 / 111.32
        let halfLon = halfLat / cos(configuration.centerLatitude * .pi / 180)
        var roads: [Road] = []
        for _ in 0..<configuration.arterialRoads {
            // A road through a random point, in a random direction, spanning the city.
            let angle = g.unit() * .pi
            let lat0 = configuration.centerLatitude + (g.unit() * 2 - 1) * halfLat * 0.8
            let lon0 = configuration.centerLongitude + (g.unit() * 2 - 1) * halfLon * 0.8
            roads.append(Road(lat0: lat0, lon0: lon0, dLat: sin(angle) * halfLat, dLon: cos(angle) * halfLon, cameraIndexes: []))
        }
        var lats: [Int32] = [], lons: [Int32] = [], ids: [UInt32] = []
        var positions: [[(Double, Int)]] = Array(repeating: [], count: roads.count)
        for c in 0..<configuration.fixedCameras {
            let r = Int(g.next() % UInt64(roads.count))
            let t = g.unit() * 2 - 1
            lats.append(Int32(((roads[r].lat0 + t * roads[r].dLat) * coordinateScale).rounded()))
            lons.append(Int32(((roads[r].lon0 + t * roads[r].dLon) * coordinateScale).rounded()))
            ids.append(UInt32(10_000 + c))
            positions[r].append((t, c))
        }
        for r in roads.indices { roads[r].cameraIndexes = positions[r].sorted { $0.0 < $1.0 }.map(\.1) }
        self.roads = roads.filter { !$0.cameraIndexes.isEmpty }
        cameraLatitudes = lats
        cameraLongitudes = lons
        cameraIDs = ids
        trips = ZipfDistribution(n: configuration.maximumTrips, exponent: configuration.tripExponent)
    }

    /// Camera id of mobile reader `k`.
    static func mobileID(_ k: Int) -> UInt32 { UInt32(90_000 + k) }

    /// Exactly `rows` sightings, grouped by plate (a store sorts them anyway).
    public func generate(rows: Int) -> SightingBatch {
        var batch = SightingBatch(capacity: rows)
        var g = SplitMix64(seed: configuration.seed)
        var plateNumber = 0
        while batch.count < rows {
            generatePlate(plateNumber, into: &batch, limit: rows, &g)
            plateNumber += 1
        }
        return batch
    }

    /// The OCR twin of a character, if it has one.
    static func misread(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "O"): return UInt8(ascii: "0")
        case UInt8(ascii: "0"): return UInt8(ascii: "O")
        case UInt8(ascii: "B"): return UInt8(ascii: "8")
        case UInt8(ascii: "8"): return UInt8(ascii: "B")
        case UInt8(ascii: "I"): return UInt8(ascii: "1")
        case UInt8(ascii: "1"): return UInt8(ascii: "I")
        case UInt8(ascii: "S"): return UInt8(ascii: "5")
        case UInt8(ascii: "5"): return UInt8(ascii: "S")
        case UInt8(ascii: "Z"): return UInt8(ascii: "2")
        case UInt8(ascii: "2"): return UInt8(ascii: "Z")
        default: return nil
        }
    }

    /// A plate in one of a few common layouts: 1ABC234, ABC1234, AB12CDE, 123ABC.
    static func plateBytes(_ g: inout SplitMix64) -> [UInt8] {
        let layouts = ["9AAA999", "AAA9999", "AA99AAA", "999AAA", "AAA999", "9AAA99"]
        let layout = layouts[Int(g.next() % UInt64(layouts.count))]
        return layout.utf8.map { c in
            c == UInt8(ascii: "9") ? UInt8(ascii: "0") + UInt8(g.next() % 10) : UInt8(ascii: "A") + UInt8(g.next() % 26)
        }
    }

    private func commuteSecondOfDay(_ g: inout SplitMix64) -> Double {
        let u = g.unit()
        if u < 0.3 { return min(86_399, max(0, g.normal(mean: 8 * 3600, deviation: 3600))) }   // morning peak
        if u < 0.6 { return min(86_399, max(0, g.normal(mean: 17.5 * 3600, deviation: 4000))) } // evening peak
        return g.unit() * 86_400
    }

    private func generatePlate(_ number: Int, into batch: inout SightingBatch, limit: Int, _ g: inout SplitMix64) {
        let c = configuration
        let plate = Self.plateBytes(&g)
        let homeRoad = Int(g.next() % UInt64(roads.count))
        let homeT = g.unit() * 2 - 1
        let homeLat = roads[homeRoad].lat0 + homeT * roads[homeRoad].dLat + g.normal(deviation: 0.004)
        let homeLon = roads[homeRoad].lon0 + homeT * roads[homeRoad].dLon + g.normal(deviation: 0.004)
        let region: UInt32 = g.unit() < 0.9 ? 0x4143 : (g.unit() < 0.5 ? 0x564E : 0x5A41)  // CA, NV, AZ
        let tripCount = trips.sample(&g)
        for _ in 0..<tripCount {
            guard batch.count < limit else { return }
            let day = Int64(g.next() % UInt64(c.days))
            var time = c.startTime + day * 86_400_000 + Int64(commuteSecondOfDay(&g) * 1000)
            if g.unit() < c.mobileShare * 2.5 {
                // A parked read by a mobile reader near home (mobile reads ≈ mobileShare of rows:
                // a trip yields ~2.5 reads, a parked read one).
                let reader = Int(g.next() % UInt64(c.mobileReaders))
                let lat = homeLat + g.normal(deviation: 0.0004), lon = homeLon + g.normal(deviation: 0.0004)
                // GPS units report 6 decimals (~11 cm), as the dense-track generator does.
                append(plate, time, Int32((lat * 1_000_000).rounded()) * 10, Int32((lon * 1_000_000).rounded()) * 10,
                       Self.mobileID(reader), region, &batch, &g)
                continue
            }
            let r = g.unit() < 0.7 ? homeRoad : Int(g.next() % UInt64(roads.count))
            let cams = roads[r].cameraIndexes
            let passes = min(cams.count, 1 + Int(g.next() % 5))
            let forward = g.next() & 1 == 0
            let startIndex = Int(g.next() % UInt64(cams.count - passes + 1))
            let speed = 8 + g.unit() * 17  // m/s
            var previous: Int? = nil
            for k in 0..<passes {
                guard batch.count < limit else { return }
                let camera = cams[forward ? startIndex + k : startIndex + passes - 1 - k]
                if let p = previous {
                    let dLat = Double(cameraLatitudes[camera] - cameraLatitudes[p]) / coordinateScale * 111_320
                    let dLon = Double(cameraLongitudes[camera] - cameraLongitudes[p]) / coordinateScale * 111_320
                        * cos(c.centerLatitude * .pi / 180)
                    time += Int64((dLat * dLat + dLon * dLon).squareRoot() / speed * 1000) + Int64(g.next() % 20_000)
                }
                append(plate, time, cameraLatitudes[camera], cameraLongitudes[camera], cameraIDs[camera], region, &batch, &g)
                previous = camera
            }
        }
    }

    private func append(_ plateBytes: [UInt8], _ time: Int64, _ lat: Int32, _ lon: Int32, _ camera: UInt32,
                        _ region: UInt32, _ batch: inout SightingBatch, _ g: inout SplitMix64) {
        var bytes = plateBytes
        if g.unit() < configuration.misreadRate {
            let candidates = bytes.indices.filter { Self.misread(bytes[$0]) != nil }
            if let i = candidates.randomElement(using: &g) { bytes[i] = Self.misread(bytes[i])! }
        }
        let plate = bytes.withUnsafeBytes { Plate(uncheckedNormalized: $0) }
        let confidence: UInt8 = g.unit() < 0.9 ? UInt8(80 + g.next() % 20) : UInt8(40 + g.next() % 40)
        let regionCode = g.unit() < configuration.regionShare ? region : 0
        let image = configuration.images ? "s3://alpr-images/\(camera)/\(time).jpg" : nil
        batch.appendUnchecked(plate: plate, time: time, latitudeE7: lat, longitudeE7: lon, camera: camera,
                              confidence: confidence, regionCode: regionCode, image: image)
    }
}
