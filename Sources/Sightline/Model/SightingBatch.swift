/// Sightings held column by column: the unit of ingest and of segment writing.
///
/// Every column has `count` entries. Values are validated on `append`; the columns are
/// read-only from outside so a batch is always valid.
public struct SightingBatch: Sendable, Equatable {
    /// Normalized plates.
    public private(set) var plates: [Plate] = []
    /// Times, epoch milliseconds UTC.
    public private(set) var times: [Int64] = []
    /// Latitudes in 1e-7 degree.
    public private(set) var latitudesE7: [Int32] = []
    /// Longitudes in 1e-7 degree.
    public private(set) var longitudesE7: [Int32] = []
    /// Camera ids.
    public private(set) var cameras: [UInt32] = []
    /// Confidences, 0–100.
    public private(set) var confidences: [UInt8] = []
    /// Region codes (`Region.code`), 0 where absent.
    public private(set) var regionCodes: [UInt32] = []
    /// Image URIs; empty until the first sighting with an image, then `count` long.
    public private(set) var images: [String?] = []

    /// An empty batch with room for `capacity` sightings.
    public init(capacity: Int = 0) {
        reserveCapacity(capacity)
    }

    /// A batch of columns already validated (equal counts; `images` empty or one per row).
    init(columns plates: [Plate], _ times: [Int64], _ latitudesE7: [Int32], _ longitudesE7: [Int32], _ cameras: [UInt32],
         _ confidences: [UInt8], _ regionCodes: [UInt32], _ images: [String?]) {
        assert(times.count == plates.count && latitudesE7.count == plates.count && longitudesE7.count == plates.count
               && cameras.count == plates.count && confidences.count == plates.count && regionCodes.count == plates.count
               && (images.isEmpty || images.count == plates.count))
        self.plates = plates
        self.times = times
        self.latitudesE7 = latitudesE7
        self.longitudesE7 = longitudesE7
        self.cameras = cameras
        self.confidences = confidences
        self.regionCodes = regionCodes
        self.images = images
    }

    /// A batch of `sightings`.
    public init<S: Sequence>(_ sightings: S) where S.Element == Sighting {
        for s in sightings { append(s) }
    }

    /// Number of sightings.
    public var count: Int { times.count }
    /// True when the batch holds no sighting.
    public var isEmpty: Bool { times.isEmpty }

    /// Reserves room for `capacity` sightings in every column.
    public mutating func reserveCapacity(_ capacity: Int) {
        plates.reserveCapacity(capacity)
        times.reserveCapacity(capacity)
        latitudesE7.reserveCapacity(capacity)
        longitudesE7.reserveCapacity(capacity)
        cameras.reserveCapacity(capacity)
        confidences.reserveCapacity(capacity)
        regionCodes.reserveCapacity(capacity)
    }

    /// Removes every sighting, keeping the capacity.
    public mutating func removeAll() {
        plates.removeAll(keepingCapacity: true)
        times.removeAll(keepingCapacity: true)
        latitudesE7.removeAll(keepingCapacity: true)
        longitudesE7.removeAll(keepingCapacity: true)
        cameras.removeAll(keepingCapacity: true)
        confidences.removeAll(keepingCapacity: true)
        regionCodes.removeAll(keepingCapacity: true)
        images.removeAll(keepingCapacity: true)
    }

    /// Appends a (validated) sighting.
    public mutating func append(_ s: Sighting) {
        appendUnchecked(plate: s.plate, time: s.time, latitudeE7: s.latitudeE7, longitudeE7: s.longitudeE7,
                        camera: s.camera, confidence: s.confidence, regionCode: s.region?.code ?? 0, image: s.image)
    }

    /// Appends a sighting from raw fields, validating them.
    public mutating func append(plate: Plate, time: Int64, latitudeE7: Int32, longitudeE7: Int32,
                                camera: UInt32, confidence: UInt8, region: Region? = nil, image: String? = nil) throws(SightlineError) {
        append(try Sighting(plate: plate, time: time, latitudeE7: latitudeE7, longitudeE7: longitudeE7,
                            camera: camera, confidence: confidence, region: region, image: image))
    }

    /// Appends fields already known to be valid. Debug builds check them.
    @usableFromInline
    package mutating func appendUnchecked(plate: Plate, time: Int64, latitudeE7: Int32, longitudeE7: Int32,
                                           camera: UInt32, confidence: UInt8, regionCode: UInt32, image: String?) {
        assert(Sighting.latitudeRange.contains(latitudeE7) && Sighting.longitudeRange.contains(longitudeE7))
        assert(confidence <= 100)
        plates.append(plate)
        times.append(time)
        latitudesE7.append(latitudeE7)
        longitudesE7.append(longitudeE7)
        cameras.append(camera)
        confidences.append(confidence)
        regionCodes.append(regionCode)
        if image != nil && images.isEmpty && times.count > 1 {
            images = Array(repeating: nil, count: times.count - 1)
        }
        if image != nil || !images.isEmpty { images.append(image) }
    }

    /// Appends row `i` of `other` (already validated there) column by column.
    @inlinable
    internal mutating func appendRow(_ i: Int, of other: SightingBatch) {
        appendUnchecked(plate: other.plates[i], time: other.times[i], latitudeE7: other.latitudesE7[i],
                        longitudeE7: other.longitudesE7[i], camera: other.cameras[i], confidence: other.confidences[i],
                        regionCode: other.regionCodes[i], image: other.images.isEmpty ? nil : other.images[i])
    }

    /// Appends every row of `other`.
    public mutating func append(contentsOf other: SightingBatch) {
        if isEmpty && images.isEmpty && times.capacity < other.count {
            self = other
            return
        }
        plates += other.plates
        times += other.times
        latitudesE7 += other.latitudesE7
        longitudesE7 += other.longitudesE7
        cameras += other.cameras
        confidences += other.confidences
        regionCodes += other.regionCodes
        if !other.images.isEmpty || !images.isEmpty {
            if images.isEmpty { images = Array(repeating: nil, count: count - other.count) }
            images += other.images.isEmpty ? Array(repeating: nil, count: other.count) : other.images
        }
    }

    /// The sighting at `index`.
    public subscript(index: Int) -> Sighting {
        Sighting(unchecked: plates[index], time: times[index], latitudeE7: latitudesE7[index],
                 longitudeE7: longitudesE7[index], camera: cameras[index], confidence: confidences[index],
                 region: Region(code: regionCodes[index]), image: images.isEmpty ? nil : images[index])
    }

    /// All sightings, in batch order.
    public var sightings: [Sighting] { (0..<count).map { self[$0] } }
}
