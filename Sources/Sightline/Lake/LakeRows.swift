/// A day's rows as the export reads them: columns, straight from the decoded blocks (no
/// `Sighting` per row, no ordering by the query — the export orders them itself). A
/// `MatchSink`, so the planner's pruning, retention and sharing rules apply as for any query.
struct LakeRows: MatchSink, Sendable {
    var plates: [Plate] = []
    var times: [Int64] = []
    var latitudes: [Int32] = []
    var longitudes: [Int32] = []
    var cameras: [UInt32] = []
    var confidences: [UInt8] = []
    var regions: [UInt32] = []
    /// Per row, or empty while no row has an image.
    var images: [String?] = []

    var count: Int { times.count }

    init(_ plan: QueryPlan) {}
    init() {}

    init(_ sightings: [Sighting]) {
        for s in sightings {
            append(plate: s.plate, time: s.time, latitudeE7: s.latitudeE7, longitudeE7: s.longitudeE7, camera: s.camera,
                   confidence: s.confidence, region: s.region?.code ?? 0, image: s.image)
        }
    }

    @inline(__always)
    mutating func append(plate: Plate, time: Int64, latitudeE7: Int32, longitudeE7: Int32, camera: UInt32, confidence: UInt8,
                         region: UInt32, image: String?) {
        if image != nil && images.count < times.count { images.append(contentsOf: repeatElement(nil, count: times.count - images.count)) }
        plates.append(plate)
        times.append(time)
        latitudes.append(latitudeE7)
        longitudes.append(longitudeE7)
        cameras.append(camera)
        confidences.append(confidence)
        regions.append(region)
        if !images.isEmpty || image != nil { images.append(image) }
    }

    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate) {
        append(plate: plate, time: d.times[row], latitudeE7: d.latitudes[row], longitudeE7: d.longitudes[row], camera: d.cameras[row],
               confidence: d.confidences[row], region: d.regions[row], image: d.images.isEmpty ? nil : d.images[row])
    }

    mutating func add(_ batch: SightingBatch, row: Int) {
        append(plate: batch.plates[row], time: batch.times[row], latitudeE7: batch.latitudesE7[row], longitudeE7: batch.longitudesE7[row],
               camera: batch.cameras[row], confidence: batch.confidences[row], region: batch.regionCodes[row], image: batch.images.isEmpty ? nil : batch.images[row])
    }

    mutating func merge(_ other: consuming LakeRows) {
        if !other.images.isEmpty && images.count < count { images.append(contentsOf: repeatElement(nil, count: count - images.count)) }
        if !images.isEmpty && other.images.count < other.count {
            other.images.append(contentsOf: repeatElement(nil, count: other.count - other.images.count))
        }
        plates += other.plates; times += other.times; latitudes += other.latitudes; longitudes += other.longitudes
        cameras += other.cameras; confidences += other.confidences; regions += other.regions; images += other.images
    }

    /// Image of row `i` (nil when none).
    @inline(__always) func image(_ i: Int) -> String? { i < images.count ? images[i] : nil }
}
