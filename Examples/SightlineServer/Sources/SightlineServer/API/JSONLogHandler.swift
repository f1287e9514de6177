import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Structured logs: one JSON object a line on standard error — `time`, `level`, `label`,
/// `message` and the metadata as string members — for a log collector to index.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let ms = Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        var line = "{\"time\":\(ms),\"level\":\"\(event.level)\",\"label\":\(JSON.string(label)),\"message\":\(JSON.string(event.message.description))"
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
            line += ",\(JSON.string(key)):\(JSON.string(value.description))"
        }
        line += "}\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }
}
