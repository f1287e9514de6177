/// Constants of segment file format v3 (v2 files are still read). Docs/format.md draws every field.
enum SegmentFormat {
    /// First 8 bytes of a segment: 0x89 "SLSEG" CR LF — the high byte and CR LF catch
    /// 7-bit and text-mode transfers, as PNG's signature does.
    static let headerMagic: [UInt8] = [0x89, 0x53, 0x4C, 0x53, 0x45, 0x47, 0x0D, 0x0A]
    /// Last 8 bytes of a segment: "SLSEGEND".
    static let trailerMagic: UInt64 = 0x444E_4547_4553_4C53  // "SLSEGEND" little-endian
    /// The version written: v3 adds the plate n-gram index and the camera index.
    static let version: UInt32 = 3
    /// Versions read. A v2 segment has neither index: searches and camera-filtered queries
    /// scan it (a compaction rewrites it as v3).
    static let readableVersions: ClosedRange<UInt32> = 2...3
    /// magic(8) version(4) crc32c(4)
    static let headerSize = 16
    /// footerOffset(8) footerLength(4) footerCRC(4) magic(8)
    static let trailerSize = 24
    /// Number of column chunks per block.
    static let columnCount = ColumnID.allCases.count
    /// Fixed bytes of a footer before the block table.
    /// rows(8) blocks(4) blockRowLimit(4) keys(16) times(16) bounds(16) homes(8+4+4) secretCheck(8)
    /// spatialBlocks(4) spatialBlockRowLimit(4) plateFilter(8+4+4)
    static let footerFixedSizeV2 = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 16 + 8 + 4 + 4 + 8 + 4 + 4 + 8 + 4 + 4
    /// v3 adds plateIndex(offset 8, length 4, directoryLength 4, directoryCRC 4) and
    /// cameraIndex(offset 8, length 4, crc 4).
    static let footerFixedSize = footerFixedSizeV2 + 8 + 4 + 4 + 4 + 8 + 4 + 4
    /// Fixed footer bytes of `version`.
    static func footerFixedSize(version: UInt32) -> Int { version == 2 ? footerFixedSizeV2 : footerFixedSize }
    /// Bytes of one block entry in the footer.
    static let blockEntrySize = 8 + 4 + 8 + 8 + 8 + 8 + 16 + 8 * columnCount
    /// Bits per distinct plate key in the plate filter (~1 % false positives).
    static let plateFilterBitsPerKey = 10
    /// Largest footer a reader accepts (guards allocation against a corrupt length).
    static let maximumFooterSize = 1 << 30
}

/// The column chunks of a block, in file order.
@_spi(Benchmarks) public enum ColumnID: Int, CaseIterable, Sendable {
    /// Plate runs (text; keys are recomputed).
    case plate = 0
    /// Times, epoch milliseconds.
    case time
    /// Camera ids.
    case camera
    /// Latitude and longitude (with camera home references).
    case position
    /// Confidences, 0–100.
    case confidence
    /// Region codes.
    case region
    /// Image URIs.
    case image

    /// The column's name in statistics and errors.
    public var name: String {
        switch self {
        case .plate: "plate"
        case .time: "time"
        case .camera: "camera"
        case .position: "position"
        case .confidence: "confidence"
        case .region: "region"
        case .image: "image"
        }
    }
}

/// A set of columns to decode.
@_spi(Benchmarks) public struct ColumnSet: OptionSet, Sendable, Hashable {
    /// One bit per `ColumnID`.
    public let rawValue: UInt8
    /// A set from its bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Plate runs (and their recomputed keys).
    public static let plate = ColumnSet(rawValue: 1 << 0)
    /// Times.
    public static let time = ColumnSet(rawValue: 1 << 1)
    /// Camera ids (needs the position chunk's home references, which it reads too).
    public static let camera = ColumnSet(rawValue: 1 << 2)
    /// Latitude and longitude (needs the camera column, which it decodes too).
    public static let position = ColumnSet(rawValue: 1 << 3)
    /// Confidences.
    public static let confidence = ColumnSet(rawValue: 1 << 4)
    /// Region codes.
    public static let region = ColumnSet(rawValue: 1 << 5)
    /// Image URIs.
    public static let image = ColumnSet(rawValue: 1 << 6)
    /// Every column.
    public static let all: ColumnSet = [.plate, .time, .camera, .position, .confidence, .region, .image]

    func contains(_ id: ColumnID) -> Bool { contains(ColumnSet(rawValue: 1 << UInt8(id.rawValue))) }
}

/// Where a block's column chunks lie and how to check them.
struct BlockEntry: Hashable {
    var offset: Int64
    var statistics: BlockStatistics
    var columnLengths: [UInt32]
    var columnChecksums: [UInt32]

    var byteLength: Int64 { columnLengths.reduce(0) { $0 + Int64($1) } }

    /// Offset of column `id`'s chunk.
    func offset(of id: ColumnID) -> Int64 {
        var o = offset
        for i in 0..<id.rawValue { o += Int64(columnLengths[i]) }
        return o
    }
}

/// The plate membership filter of a segment: which plate keys it may hold.
enum PlateFilter {
    /// The filter's hash of a plate key: the key itself (SipHash output is already uniform).
    @inline(__always)
    static func hash(_ key: UInt64) -> UInt64 { key }
}
