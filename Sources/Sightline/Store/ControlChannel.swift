#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// What another process may ask a store's owner to do through its control socket.
package enum ControlRequest: Sendable, Hashable {
    /// Write buffered rows to a segment.
    case flush
    /// Compact with these options.
    case compact(CompactionOptions)
    /// Remove a plate's sightings within a time range from every file, on behalf of
    /// `access` (the purge's audit record names it).
    case purge(Plate, TimeRange, access: AccessContext = .unattributed, force: Bool = false)
    /// Place a legal hold (`Store.placeLegalHold`).
    case placeLegalHold(LegalHold, access: AccessContext = .unattributed)
    /// Release the legal hold with this id, or those of this case (`Store.releaseLegalHold`).
    case releaseLegalHold(String, access: AccessContext = .unattributed)
    /// Set what every read must state (`Store.setAccessRequirement`), on behalf of `access`.
    case setAccessRequirement(AccessRequirement, access: AccessContext = .unattributed)
    /// Replace the camera registry (`Store.setCameraRegistry`), on behalf of `access`.
    case setCameraRegistry(CameraRegistry, access: AccessContext = .unattributed)
    /// Replace the sharing policy (`Store.setSharingPolicy`), on behalf of `access`.
    case setSharingPolicy(SharingPolicy, access: AccessContext = .unattributed)
    /// Replace the retention policy (`Store.setRetentionPolicy`), on behalf of `access`.
    case setRetentionPolicy(RetentionPolicy, access: AccessContext = .unattributed)
    /// Delete rows past their retention period now (`Store.enforceRetention`).
    case enforceRetention
    /// Report the store's statistics.
    case statistics
    /// Set the guardrails of investigative queries (replies with the statistics).
    case setInvestigationLimits(InvestigationLimits)
    /// Add the entries of a hotlist CSV file (read by the owner: give an absolute path),
    /// checking the history from a time when given. Replies with a summary.
    case addHotlistEntries(file: String, retroactiveFrom: Int64?)
    /// Remove the entries of a hotlist CSV file (plate, list, mode). Replies with a summary.
    case removeHotlistEntries(file: String)
    /// Add or replace a geofence, checking the history from a time when given.
    case addGeofence(Geofence, retroactiveFrom: Int64?)
    /// Remove a geofence by name.
    case removeGeofence(String)
    /// The rows of a plate the owner holds in memory, when its published manifest is this
    /// generation (`Store.memoryRows`): a one-plate read from another process.
    case memoryRows(Plate, generation: UInt64)
    /// The rows inside a box the owner holds in memory, when its published manifest is this
    /// generation: a one-area read from another process.
    case memoryArea(GeoBox, generation: UInt64)
}

/// The owner's answer to a `ControlRequest`.
package enum ControlReply: Sendable, Equatable {
    /// The flush is done.
    case flushed
    /// What a compaction or purge rewrote.
    case rewrite(RewriteSummary)
    /// The store's statistics, as `StoreStatistics.report` prints them.
    case statistics(String)
    /// A plate's rows in the owner's memory beyond manifest `generation` (nil: the owner's
    /// manifest is not that generation; read it again).
    case memoryRows(generation: UInt64, rows: SightingBatch?)
}

/// The owner's control channel: a UNIX-domain socket `control.sock` in the store directory
/// (mode 0600; a peer of another uid is refused by its `SO_PEERCRED` credentials) through
/// which `sightline compact|purge|flush|stats` reach the process that owns the store, which
/// does the work. One request per connection, one line each way:
///
///     request:  flush | stats | compact <day|week> <targetRows> <deleteOlderThan|-> |
///               purge <PLATE> <from|-> <to|-> | guardrails <maxSpanMs|-> <maxPlates|-> |
///               hotlist-add <hex path> <from|-> | hotlist-remove <hex path> |
///               geofence-add <hex rules-file line> <from|-> | geofence-remove <name> |
///               access|cameras|policy|retention <value> <context> | retention-enforce |
///               hold-add <hex> <context> | hold-release <hex id> <context>
///               (a context: requester, agency, purpose, case — hex each, `-` when empty)
///     reply:    ok flushed | ok rewrite <key=value …> | ok stats <report, \n as \x1f> | error <reason>
///
/// A socket file left by a killed owner is stale: the next owner (who holds `LOCK`, so no
/// other owner is alive) removes it and binds afresh; a client finds it refused
/// (`ECONNREFUSED`) and reports that no owner is listening.
final class ControlServer: Sendable {
    static let fileName = "control.sock"
    private let path: String
    private let listener: Int32
    private let stopped = Locked(false)
    private let done = DispatchGroup()

    /// Binds and listens on `directory/control.sock`, serving requests with `handle`.
    init(directory: String, logger: @escaping @Sendable (String) -> Void,
         handle: @escaping @Sendable (ControlRequest) throws(SightlineError) -> ControlReply) throws(SightlineError) {
        path = "\(directory)/\(Self.fileName)"
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw .invalidArgument("\(path): too long for a UNIX socket path (at most 107 bytes)")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .io(operation: "socket", path: path, errno: errno) }
        unlink(path)  // stale: we hold LOCK, so no other owner listens on it
        var address = Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // 0600 before listen(): until then every connection attempt is refused anyway.
        guard bound == 0, chmod(path, 0o600) == 0, listen(fd, 8) == 0 else {
            let e = errno
            close(fd)
            unlink(path)
            throw .io(operation: "bind control socket", path: path, errno: e)
        }
        listener = fd
        let stopped = self.stopped
        let path = self.path
        DispatchQueue(label: "sightline.control").async(group: done) {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    if !stopped.withLock({ $0 }) { logger("control socket \(path): accept failed, errno \(errno)") }
                    return
                }
                // Each connection on its own thread: a one-plate read must not wait behind a
                // compaction another client asked for (the store serializes what must be).
                let done = self.done
                DispatchQueue.global().async(group: done) {
                    Self.serve(client, handle: handle)
                    close(client)
                }
            }
        }
    }

    /// Stops listening and removes the socket file.
    func stop() {
        guard !stopped.withLock({ (s: inout Bool) -> Bool in defer { s = true }; return s }) else { return }
        shutdown(listener, Int32(SHUT_RDWR))  // wakes accept()
        done.wait()
        close(listener)
        unlink(path)
    }

    static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes.prefix(raw.count - 1))
            raw[min(bytes.count, raw.count - 1)] = 0
        }
        return address
    }

    /// The kernel's credentials of a connected peer (`struct ucred`).
    private struct PeerCredentials { var pid: Int32 = 0; var uid: UInt32 = 0; var gid: UInt32 = 0 }

    private static func serve(_ client: Int32, handle: (ControlRequest) throws(SightlineError) -> ControlReply) {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)  // a silent client does not hold the owner
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(client, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0, credentials.uid == geteuid() else {
            ControlWire.write(client, "error refused: only the owner's user may control the store")
            return
        }
        guard let line = ControlWire.readLine(client) else { return }
        let reply: String
        do throws(SightlineError) {
            reply = "ok " + ControlWire.encode(try handle(try ControlWire.decodeRequest(line)))
        } catch {
            reply = "error " + "\(error)".replacingNewlines()
        }
        ControlWire.write(client, reply)
    }
}

/// Sends requests to a store's owner.
package enum StoreControl {
    /// Whether `directory` has a control socket file (its owner may be listening).
    package static func hasSocket(_ directory: String) -> Bool {
        var info = stat()
        return stat("\(directory)/\(ControlServer.fileName)", &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }

    /// Sends `request` to the process that owns the store at `directory` and waits for its
    /// reply (a compaction may take minutes: `timeout` bounds the wait for the reply).
    /// - Throws: `controlFailed` when no owner listens (no socket, or a stale one left by a
    ///   killed owner), the owner refuses (another uid) or reports an error.
    package static func send(_ request: ControlRequest, to directory: String,
                            timeout: Duration = .seconds(3600)) throws(SightlineError) -> ControlReply {
        let path = "\(directory)/\(ControlServer.fileName)"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .io(operation: "socket", path: path, errno: errno) }
        defer { close(fd) }
        var address = ControlServer.address(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let e = errno
            if e == ECONNREFUSED || e == ENOENT {
                throw .controlFailed(path: path, reason: "no owner is listening (the owner is gone or runs without a control channel)")
            }
            throw .controlFailed(path: path, reason: "cannot connect: \(String(cString: strerror(e)))")
        }
        var limit = timeval(tv_sec: Int(max(1, timeout.milliseconds / 1000)), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        ControlWire.write(fd, ControlWire.encode(request))
        // A reply may carry a plate's rows (a GPS tracker's can be many): a larger limit.
        guard let line = ControlWire.readLine(fd, limit: 256 << 20) else {
            throw .controlFailed(path: path, reason: "the owner closed the connection without a reply (or the reply timed out)")
        }
        if line.hasPrefix("error ") { throw .controlFailed(path: path, reason: "the owner refused: " + line.dropFirst(6)) }
        guard line.hasPrefix("ok "), let reply = ControlWire.decodeReply(String(line.dropFirst(3))) else {
            throw .controlFailed(path: path, reason: "malformed reply")
        }
        return reply
    }
}

/// The one-line text encoding of requests and replies.
enum ControlWire {
    static let newline: Character = "\u{1f}"  // replies that span lines travel as one

    static func write(_ fd: Int32, _ line: String) {
        var bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }

    /// One line (without its newline), at most `limit` bytes; nil on EOF, timeout or error.
    /// Read in blocks: each side sends one line a connection, nothing after it.
    static func readLine(_ fd: Int32, limit: Int = 1 << 20) -> String? {
        var bytes: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 65536)
        while bytes.count <= limit {
            let n = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            if let newline = block[0..<n].firstIndex(of: UInt8(ascii: "\n")) {
                bytes += block[0..<newline]
                return bytes.count <= limit ? String(decoding: bytes, as: UTF8.self) : nil
            }
            bytes += block[0..<n]
        }
        return nil
    }

    static func encode(_ request: ControlRequest) -> String {
        func time(_ t: Int64?) -> String { t.map(String.init) ?? "-" }
        switch request {
        case .flush: return "flush"
        case .statistics: return "stats"
        case .compact(let c): return "compact \(c.partitioning.rawValue) \(c.targetRows) \(time(c.deleteOlderThan))"
        case .purge(let plate, let range, let a, let force):
            return "purge \(plate) \(time(range.from)) \(time(range.to)) \(contextFields(a))" + (force ? " force" : "")
        case .placeLegalHold(let h, let a):
            return "hold-add \(hexEncoded(String(decoding: HoldsFile.encode([h]), as: UTF8.self))) \(contextFields(a))"
        case .releaseLegalHold(let id, let a): return "hold-release \(hexEncoded(id)) \(contextFields(a))"
        case .setInvestigationLimits(let l):
            return "guardrails \(time(l.maximumTimeSpan?.milliseconds)) \(l.maximumPlates.map(String.init) ?? "-")"
        case .addHotlistEntries(let file, let from): return "hotlist-add \(hexEncoded(file)) \(time(from))"
        case .removeHotlistEntries(let file): return "hotlist-remove \(hexEncoded(file))"
        case .addGeofence(let g, let from): return "geofence-add \(hexEncoded(RulesFile.line(of: g))) \(time(from))"
        case .removeGeofence(let name): return "geofence-remove \(name)"
        case .memoryRows(let plate, let generation): return "memory-rows \(plate) \(generation)"
        case .memoryArea(let b, let generation):
            return "memory-area \(b.minLatitudeE7) \(b.minLongitudeE7) \(b.maxLatitudeE7) \(b.maxLongitudeE7) \(generation)"
        case .setAccessRequirement(let r, let a): return "access \(r.rawValue) \(contextFields(a))"
        case .setCameraRegistry(let r, let a): return "cameras \(hexEncoded(String(decoding: CamerasFile.encode(r), as: UTF8.self))) \(contextFields(a))"
        case .setSharingPolicy(let p, let a): return "policy \(hexEncoded(String(decoding: PolicyFile.encode(p), as: UTF8.self))) \(contextFields(a))"
        case .setRetentionPolicy(let p, let a): return "retention \(hexEncoded(String(decoding: RetentionFile.encode(p), as: UTF8.self))) \(contextFields(a))"
        case .enforceRetention: return "retention-enforce"
        }
    }

    /// An access context as four space-free fields (hex, `-` for empty).
    static func contextFields(_ a: AccessContext) -> String {
        [a.requester, a.agency, a.purpose, a.caseNumber ?? ""].map { $0.isEmpty ? "-" : hexEncoded($0) }.joined(separator: " ")
    }

    static func context(_ f: ArraySlice<String>) throws(SightlineError) -> AccessContext {
        var t: [String] = []
        for s in f { t.append(s == "-" ? "" : try hexDecoded(s)) }
        return AccessContext(requester: t[0], agency: t[1], purpose: t[2], caseNumber: t[3])
    }

    static func decodeRequest(_ line: String) throws(SightlineError) -> ControlRequest {
        let f = line.split(separator: " ").map(String.init)
        func time(_ s: String) throws(SightlineError) -> Int64? {
            if s == "-" { return nil }
            guard let t = Int64(s) else { throw .invalidArgument("control request: bad time \(s)") }
            return t
        }
        switch (f.first, f.count) {
        case ("flush", 1): return .flush
        case ("stats", 1): return .statistics
        case ("compact", 4):
            guard let p = Partitioning(rawValue: f[1]), let target = Int(f[2]) else { throw .invalidArgument("control request: \(line)") }
            return .compact(CompactionOptions(partitioning: p, targetRows: target, deleteOlderThan: try time(f[3])))
        case ("purge", 4):
            return .purge(try Plate(f[1]), try TimeRange(from: try time(f[2]), to: try time(f[3])))
        case ("purge", 8), ("purge", 9):
            guard f.count == 8 || f[8] == "force" else { throw .invalidArgument("control request: \(line.prefix(80))") }
            return .purge(try Plate(f[1]), try TimeRange(from: try time(f[2]), to: try time(f[3])), access: try context(f[4...7]), force: f.count == 9)
        case ("hold-add", 6):
            guard let hold = try HoldsFile.decode(Array(try hexDecoded(f[1]).utf8), path: "control request").first else {
                throw .invalidArgument("control request: no hold")
            }
            return .placeLegalHold(hold, access: try context(f[2...5]))
        case ("hold-release", 6): return .releaseLegalHold(try hexDecoded(f[1]), access: try context(f[2...5]))
        case ("guardrails", 3):
            let span = try time(f[1]), plates = try time(f[2])
            guard (span ?? 1) > 0, (plates ?? 1) > 0 else { throw .invalidArgument("control request: \(line)") }
            return .setInvestigationLimits(InvestigationLimits(maximumTimeSpan: span.map { .milliseconds($0) }, maximumPlates: plates.map { Int($0) }))
        case ("hotlist-add", 3): return .addHotlistEntries(file: try hexDecoded(f[1]), retroactiveFrom: try time(f[2]))
        case ("hotlist-remove", 2): return .removeHotlistEntries(file: try hexDecoded(f[1]))
        case ("geofence-add", 3): return .addGeofence(try RulesFile.geofence(line: try hexDecoded(f[1])), retroactiveFrom: try time(f[2]))
        case ("geofence-remove", 2): return .removeGeofence(f[1])
        case ("cameras", 2), ("cameras", 6):
            return .setCameraRegistry(try CamerasFile.decode(Array(try hexDecoded(f[1]).utf8), path: "control request"),
                                      access: f.count == 6 ? try context(f[2...5]) : .unattributed)
        case ("policy", 2), ("policy", 6):
            return .setSharingPolicy(try PolicyFile.decode(Array(try hexDecoded(f[1]).utf8), path: "control request"),
                                     access: f.count == 6 ? try context(f[2...5]) : .unattributed)
        case ("retention", 6):
            return .setRetentionPolicy(try RetentionFile.decode(Array(try hexDecoded(f[1]).utf8), path: "control request"), access: try context(f[2...5]))
        case ("retention-enforce", 1): return .enforceRetention
        case ("memory-rows", 3):
            guard let generation = UInt64(f[2]) else { throw .invalidArgument("control request: \(line.prefix(80))") }
            return .memoryRows(try Plate(f[1]), generation: generation)
        case ("memory-area", 6):
            guard let s = Int32(f[1]), let w = Int32(f[2]), let n = Int32(f[3]), let e = Int32(f[4]), let generation = UInt64(f[5]),
                  s <= n, w <= e else { throw .invalidArgument("control request: \(line.prefix(80))") }
            return .memoryArea(GeoBox(minLatitudeE7: s, minLongitudeE7: w, maxLatitudeE7: n, maxLongitudeE7: e), generation: generation)
        case ("access", 2), ("access", 6):
            guard let r = AccessRequirement(rawValue: f[1]) else { throw .invalidArgument("control request: \(line)") }
            return .setAccessRequirement(r, access: f.count == 6 ? try context(f[2...5]) : .unattributed)
        default:
            throw .invalidArgument("control request not understood: \(line.prefix(80))")
        }
    }

    static func encode(_ reply: ControlReply) -> String {
        switch reply {
        case .flushed: return "flushed"
        case .statistics(let text): return "stats " + String(text.map { $0 == "\n" ? newline : $0 })
        case .memoryRows(let generation, let rows?):
            var out = ByteWriter()
            BatchCodec.encode(rows, into: &out)
            return "memory \(generation) " + hexString(out.bytes)
        case .memoryRows(let generation, nil): return "memory-stale \(generation)"
        case .rewrite(let s):
            return "rewrite removed=\(s.segmentsRemoved.joined(separator: ",")) written=\(s.segmentsWritten.joined(separator: ","))"
                + " rowsRead=\(s.rowsRead) bytesRead=\(s.bytesRead) rowsWritten=\(s.rowsWritten) bytesWritten=\(s.bytesWritten)"
                + " deletion=\(s.deletionID ?? "-")"
        }
    }

    /// `memory GENERATION HEX` (the rows as a write-ahead log record's batch) or
    /// `memory-stale GENERATION`; nil when malformed (rows validated as a log's are).
    static func decodeMemoryRows(_ text: String) -> ControlReply? {
        let f = text.split(separator: " ", omittingEmptySubsequences: false)
        if f.count == 2, f[0] == "memory-stale", let g = UInt64(f[1]) { return .memoryRows(generation: g, rows: nil) }
        guard f.count == 3, f[0] == "memory", let g = UInt64(f[1]), let bytes = hexBytes(String(f[2])) else { return nil }
        let batch = bytes.withUnsafeBytes { raw -> SightingBatch? in
            var reader = ByteReader(raw, fileOffset: 0, path: "control reply")
            guard let batch = try? BatchCodec.decode(&reader), reader.isAtEnd else { return nil }
            return batch
        }
        return batch.map { .memoryRows(generation: g, rows: $0) }
    }

    static func decodeReply(_ text: String) -> ControlReply? {
        if text == "flushed" { return .flushed }
        if text.hasPrefix("stats ") { return .statistics(String(text.dropFirst(6).map { $0 == newline ? "\n" : $0 })) }
        if text.hasPrefix("memory") { return decodeMemoryRows(text) }
        guard text.hasPrefix("rewrite ") else { return nil }
        var fields: [String: String] = [:]
        for token in text.dropFirst(8).split(separator: " ") {
            guard let eq = token.firstIndex(of: "=") else { return nil }
            fields[String(token[..<eq])] = String(token[token.index(after: eq)...])
        }
        func names(_ key: String) -> [String] { (fields[key] ?? "").split(separator: ",").map(String.init) }
        func int(_ key: String) -> Int? { fields[key].flatMap { Int($0) } }
        guard let rowsRead = int("rowsRead"), let bytesRead = int("bytesRead"), let rowsWritten = int("rowsWritten"),
              let bytesWritten = int("bytesWritten") else { return nil }
        var s = RewriteSummary()
        s.segmentsRemoved = names("removed")
        s.segmentsWritten = names("written")
        s.rowsRead = rowsRead
        s.bytesRead = bytesRead
        s.rowsWritten = rowsWritten
        s.bytesWritten = bytesWritten
        s.rowsDeleted = rowsRead - rowsWritten
        s.deletionID = fields["deletion"] == "-" ? nil : fields["deletion"]
        return .rewrite(s)
    }
}

/// Text as lowercase hex (paths and rule lines travel in one space-separated field).
func hexEncoded(_ text: String) -> String {
    text.utf8.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
}

func hexDecoded(_ text: String) throws(SightlineError) -> String {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { throw .invalidArgument("control request: odd hex field") }
    var bytes: [UInt8] = []
    for i in stride(from: 0, to: digits.count, by: 2) {
        guard let b = UInt8(String(decoding: digits[i..<(i + 2)], as: UTF8.self), radix: 16) else { throw .invalidArgument("control request: bad hex field") }
        bytes.append(b)
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    fileprivate func replacingNewlines() -> String { String(map { $0 == "\n" ? " " : $0 }) }
}
