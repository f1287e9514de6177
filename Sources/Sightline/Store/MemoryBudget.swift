#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fits a store's memory to the process's limit — the address-space limit (`ulimit -v`) or
/// the memory cgroup's (`memory.max`, v1 `memory.limit_in_bytes`) — so a store opened under
/// a limit writes smaller segments and keeps fewer duplicate filters instead of dying on an
/// allocation failure, which the Swift runtime cannot recover from; and refuses to open,
/// with an error that names the limit, where even the smallest buffer would not fit.
enum MemoryBudget {
    /// A limit and where it comes from.
    struct Limit: Equatable {
        var bytes: Int
        var source: String
    }

    /// Bytes a buffered row costs by the end of its flush: the buffer, its log record, the
    /// sort's key and order arrays, the gathered copy and both encoded copies (ingest-bench,
    /// 2 M-row buffers: 1.33 GiB peak with 256 MiB of duplicate filters and 475 segments open).
    static let bytesPerBufferedRow = 400
    /// What the process needs besides the store's buffers. An address-space limit counts
    /// reservations (binary, libraries, thread stacks, malloc arenas): ~300 MiB of them
    /// before the first row; a cgroup counts resident memory only.
    static func baseline(_ limit: Limit) -> Int { limit.source.hasPrefix("ulimit") ? 320 << 20 : 96 << 20 }
    /// The smallest write buffer a store runs with.
    static let minimumBufferRows = 20_000

    /// The tightest limit on this process, nil when there is none.
    static func processLimit() -> Limit? {
        var limits: [Limit] = []
        var r = rlimit()
        #if canImport(Glibc)
        let asLimit = getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &r)
        #else
        let asLimit = getrlimit(RLIMIT_AS, &r)
        #endif
        if asLimit == 0, r.rlim_cur < rlim_t(Int.max) {  // RLIM_INFINITY is the largest value
            limits.append(Limit(bytes: Int(r.rlim_cur), source: "ulimit -v \(Int(r.rlim_cur) / 1024)"))
        }
        if let cgroup = cgroupLimit() { limits.append(cgroup) }
        return limits.min { $0.bytes < $1.bytes }
    }

    /// The memory cgroup's limit (v2, else v1), when there is one.
    static func cgroupLimit() -> Limit? {
        guard let membership = readText("/proc/self/cgroup") else { return nil }
        for line in membership.split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            let candidates: [String]
            if f[0] == "0" && f[1].isEmpty {
                candidates = ["/sys/fs/cgroup\(f[2])/memory.max"]
            } else if f[1].split(separator: ",").contains("memory") {
                candidates = ["/sys/fs/cgroup/memory\(f[2])/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
            } else {
                continue
            }
            for path in candidates {
                guard let text = readText(path)?.split(separator: "\n").first, let bytes = Int(text) else { continue }
                // v1 writes "unlimited" as the largest page-aligned Int64.
                if bytes < 1 << 60 { return Limit(bytes: bytes, source: "cgroup \(path)") }
            }
        }
        return nil
    }

    private static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: bytes[..<n], as: UTF8.self) : nil
    }

    /// `options` fitted to `limit`: unchanged when they fit in 80 % of what the limit leaves
    /// after the baseline, else with the duplicate filters cut to an eighth of it, the camera
    /// index cache to a quarter, and the write buffer to what is left of 60 %; plus what was
    /// changed, for the log.
    /// - Throws: `invalidArgument` naming the limit when even `minimumBufferRows` do not fit.
    static func fit(_ options: StoreOptions, to limit: Limit?) throws(SightlineError) -> (StoreOptions, String?) {
        guard let limit else { return (options, nil) }
        let available = limit.bytes - baseline(limit)
        let minimum = minimumBufferRows * bytesPerBufferedRow + (8 << 20)
        guard available >= minimum else {
            throw .invalidArgument("the memory limit (\(limit.source): \(limit.bytes >> 20) MiB) is too small for a store: it needs at least \(Int(baseline(limit) + minimum) >> 20) MiB; raise the limit")
        }
        let need = options.bufferRows * bytesPerBufferedRow + options.duplicateFilterBytes
        guard need > available / 5 * 4 || options.cameraIndexCacheBytes > available / 4 else { return (options, nil) }
        var fitted = options
        fitted.duplicateFilterBytes = min(options.duplicateFilterBytes, available / 8)
        fitted.cameraIndexCacheBytes = min(options.cameraIndexCacheBytes, available / 4)
        let rowsThatFit = (available / 5 * 3 - fitted.duplicateFilterBytes) / bytesPerBufferedRow
        fitted.bufferRows = min(options.bufferRows, max(minimumBufferRows, rowsThatFit))
        let note = "memory limit \(limit.source) (\(limit.bytes >> 20) MiB): write buffer \(fitted.bufferRows) rows (asked \(options.bufferRows)), duplicate filters \(fitted.duplicateFilterBytes >> 20) MiB, camera index cache \(fitted.cameraIndexCacheBytes >> 20) MiB"
        return (fitted, note)
    }
}
