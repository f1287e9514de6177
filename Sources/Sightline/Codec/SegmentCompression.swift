import CLZ4
import CZstd

/// The general-purpose compressor applied after a column's own encoding.
public enum SegmentCompression: Sendable, Hashable, CustomStringConvertible {
    /// Stored as encoded.
    case none
    /// LZ4 (fast decode, less compression).
    case lz4
    /// Zstandard at `level` (1...19; 3 is zstd's default).
    case zstd(level: Int32)

    /// zstd level 1: the default. Sightline's streams are already entropy-shaped, so higher
    /// levels' match finding buys nothing: on ALPR-like data level 1 is both smaller (5.66 vs
    /// 5.72 B/sighting) and faster than level 3.
    public static let `default` = SegmentCompression.zstd(level: 1)

    /// The id stored on disk: 0 none, 1 lz4, 2 zstd.
    var wireID: UInt8 {
        switch self {
        case .none: return 0
        case .lz4: return 1
        case .zstd: return 2
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .lz4: return "lz4"
        case .zstd(let level): return "zstd(\(level))"
        }
    }

    /// Parses `none`, `lz4`, `zstd` or `zstd:LEVEL`.
    public init(parsing text: String) throws(SightlineError) {
        switch text.lowercased() {
        case "none": self = .none
        case "lz4": self = .lz4
        case "zstd": self = .default
        default:
            let parts = text.lowercased().split(separator: ":")
            guard parts.count == 2, parts[0] == "zstd", let level = Int32(parts[1]), (1...19).contains(level) else {
                throw .invalidArgument("unknown compression \"\(text)\" (none, lz4, zstd, zstd:1...19)")
            }
            self = .zstd(level: level)
        }
    }
}

/// Owns the zstd contexts for one thread: contexts are reused because creating one costs
/// far more than compressing a block. Not thread-safe; give each thread its own.
@usableFromInline
internal final class Compressor {
    private let cctx: OpaquePointer
    private let dctx: OpaquePointer

    init() {
        cctx = ZSTD_createCCtx()!
        dctx = ZSTD_createDCtx()!
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        ZSTD_freeDCtx(dctx)
    }

    /// Compresses `source` with `compression`, appending to `out`. Returns the stored length.
    func compress(_ source: UnsafeRawBufferPointer, with compression: SegmentCompression, into out: inout ByteWriter) throws(SightlineError) -> Int {
        switch compression {
        case .none:
            out.append(contentsOf: source)
            return source.count
        case .lz4:
            let bound = Int(LZ4_compressBound(Int32(source.count)))
            let start = out.count
            let written = out.appendUninitialized(count: bound) { dst in
                LZ4_compress_default(source.baseAddress?.assumingMemoryBound(to: CChar.self),
                                     dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                                     Int32(source.count), Int32(bound))
            }
            guard written > 0 || source.isEmpty else {
                out.truncate(to: start)
                throw .compression(codec: "lz4", reason: "compression failed")
            }
            out.truncate(to: start + Int(written))
            return Int(written)
        case .zstd(let level):
            let bound = ZSTD_compressBound(source.count)
            let start = out.count
            let cctx = self.cctx
            let written = out.appendUninitialized(count: bound) { dst in
                ZSTD_compressCCtx(cctx, dst.baseAddress, bound, source.baseAddress, source.count, level)
            }
            if ZSTD_isError(written) != 0 {
                out.truncate(to: start)
                throw .compression(codec: "zstd", reason: String(cString: ZSTD_getErrorName(written)))
            }
            out.truncate(to: start + written)
            return written
        }
    }

    /// Decompresses `source` (stored with codec `wireID`) into exactly `destination.count` bytes.
    /// Returns false when the data does not decompress to that length (corruption).
    func decompress(_ source: UnsafeRawBufferPointer, wireID: UInt8, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        switch wireID {
        case 0:
            guard source.count == destination.count else { return false }
            if !source.isEmpty { destination.copyMemory(from: source) }
            return true
        case 1:
            guard let dst = destination.baseAddress, let src = source.baseAddress else {
                return destination.isEmpty && source.count <= 1
            }
            let n = LZ4_decompress_safe(src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
                                        Int32(source.count), Int32(destination.count))
            return n == Int32(destination.count)
        case 2:
            guard let src = source.baseAddress else { return false }
            let n = ZSTD_decompressDCtx(dctx, destination.baseAddress, destination.count, src, source.count)
            return ZSTD_isError(n) == 0 && n == destination.count
        default:
            return false
        }
    }
}
