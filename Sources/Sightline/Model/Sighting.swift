/// Fixed-point scale of stored coordinates: 1e-7 degree (about 1.1 cm at the equator).
package let coordinateScale: Double = 10_000_000

/// The issuing state or country as read by the camera: up to 3 uppercase letters (`CA`, `NSW`).
@frozen
public struct Region: Hashable, Sendable, CustomStringConvertible {
    /// Letters packed little-endian, byte 0 first; never 0 for a valid region.
    public let code: UInt32

    /// Validates and uppercases `text` (1–3 ASCII letters).
    public init(_ text: String) throws(SightlineError) {
        var code: UInt32 = 0
        var n = 0
        for var byte in text.utf8 {
            if byte >= 0x61 && byte <= 0x7A { byte -= 0x20 }
            guard byte >= 0x41 && byte <= 0x5A, n < 3 else {
                throw .invalidField(field: "region", value: "\"\(text)\"", reason: "must be 1 to 3 letters")
            }
            code |= UInt32(byte) << (8 * UInt32(n))
            n += 1
        }
        guard n > 0 else { throw .invalidField(field: "region", value: "\"\"", reason: "must be 1 to 3 letters") }
        self.code = code
    }

    /// A region from a stored code; `nil` for 0 (absent) or a code that is not 1–3 letters.
    public init?(code: UInt32) {
        guard code != 0 else { return nil }
        var c = code, n = 0, seenZero = false
        while n < 4 {
            let b = UInt8(truncatingIfNeeded: c)
            if b == 0 { seenZero = true } else if seenZero || n == 3 || b < 0x41 || b > 0x5A { return nil }
            c >>= 8
            n += 1
        }
        self.code = code
    }

    /// The letters.
    public var text: String {
        var bytes: [UInt8] = []
        var c = code
        while c != 0 { bytes.append(UInt8(truncatingIfNeeded: c)); c >>= 8 }
        return String(decoding: bytes, as: UTF8.self)
    }

    public var description: String { text }
}

/// One read of a licence plate by a camera.
public struct Sighting: Hashable, Sendable {
    /// The longest image URI accepted, in UTF-8 bytes.
    public static let maximumImageLength = 1024
    /// Valid latitude range in 1e-7 degree.
    public static let latitudeRange: ClosedRange<Int32> = -900_000_000...900_000_000
    /// Valid longitude range in 1e-7 degree.
    public static let longitudeRange: ClosedRange<Int32> = -1_800_000_000...1_800_000_000

    /// The normalized plate.
    public var plate: Plate
    /// Milliseconds since the Unix epoch, UTC.
    public var time: Int64
    /// Latitude in 1e-7 degree.
    public var latitudeE7: Int32
    /// Longitude in 1e-7 degree.
    public var longitudeE7: Int32
    /// The camera (source) id.
    public var camera: UInt32
    /// OCR confidence, 0–100.
    public var confidence: UInt8
    /// The issuing region as read, when the camera could read it.
    public var region: Region?
    /// A URI of the photo, when there is one.
    public var image: String?

    /// A validated sighting from fixed-point coordinates.
    /// - Throws: `SightlineError.invalidField` for coordinates, confidence or image out of range.
    public init(
        plate: Plate, time: Int64, latitudeE7: Int32, longitudeE7: Int32,
        camera: UInt32, confidence: UInt8, region: Region? = nil, image: String? = nil
    ) throws(SightlineError) {
        guard Sighting.latitudeRange.contains(latitudeE7) else {
            throw .invalidField(field: "latitude", value: "\(Double(latitudeE7) / coordinateScale)", reason: "outside -90...90")
        }
        guard Sighting.longitudeRange.contains(longitudeE7) else {
            throw .invalidField(field: "longitude", value: "\(Double(longitudeE7) / coordinateScale)", reason: "outside -180...180")
        }
        guard confidence <= 100 else {
            throw .invalidField(field: "confidence", value: "\(confidence)", reason: "outside 0...100")
        }
        if let image {
            let n = image.utf8.count
            guard n > 0 && n <= Sighting.maximumImageLength else {
                throw .invalidField(field: "image", value: "(\(n) bytes)", reason: "must be 1 to \(Sighting.maximumImageLength) UTF-8 bytes")
            }
        }
        self.init(unchecked: plate, time: time, latitudeE7: latitudeE7, longitudeE7: longitudeE7,
                  camera: camera, confidence: confidence, region: region, image: image)
    }

    /// A validated sighting from coordinates in degrees (rounded to 1e-7 degree).
    public init(
        plate: Plate, time: Int64, latitude: Double, longitude: Double,
        camera: UInt32, confidence: UInt8, region: Region? = nil, image: String? = nil
    ) throws(SightlineError) {
        guard latitude.isFinite, latitude >= -90, latitude <= 90 else {
            throw .invalidField(field: "latitude", value: "\(latitude)", reason: "outside -90...90")
        }
        guard longitude.isFinite, longitude >= -180, longitude <= 180 else {
            throw .invalidField(field: "longitude", value: "\(longitude)", reason: "outside -180...180")
        }
        try self.init(plate: plate, time: time,
                      latitudeE7: Int32((latitude * coordinateScale).rounded()),
                      longitudeE7: Int32((longitude * coordinateScale).rounded()),
                      camera: camera, confidence: confidence, region: region, image: image)
    }

    /// A sighting from values already known to be valid (decoded from a checksummed file).
    @inlinable
    internal init(unchecked plate: Plate, time: Int64, latitudeE7: Int32, longitudeE7: Int32,
                  camera: UInt32, confidence: UInt8, region: Region?, image: String?) {
        self.plate = plate
        self.time = time
        self.latitudeE7 = latitudeE7
        self.longitudeE7 = longitudeE7
        self.camera = camera
        self.confidence = confidence
        self.region = region
        self.image = image
    }

    /// Latitude in degrees.
    public var latitude: Double { Double(latitudeE7) / coordinateScale }
    /// Longitude in degrees.
    public var longitude: Double { Double(longitudeE7) / coordinateScale }
}
