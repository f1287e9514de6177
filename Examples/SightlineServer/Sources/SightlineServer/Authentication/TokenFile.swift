import Crypto
import Sightline

#if canImport(Glibc)
import Glibc
#endif

/// The service's credentials: one line per issued token, holding only the token's SHA-256
/// (tokens are 256 random bits, so a fast hash is enough: there is nothing to guess), its
/// requester, agency, roles and expiry. Mode 0600, replaced atomically (temporary file,
/// fsync, rename, fsync of the directory).
///
///     # sightline-server tokens v1
///     <sha256 hex>\t<requester>\t<agency>\t<role,role…>\t<expires epoch ms | ->
struct TokenFile: Sendable {
    struct Entry: Sendable, Hashable {
        var hash: String
        var identity: Identity
    }

    static let header = "# sightline-server tokens v1"
    var entries: [Entry] = []

    /// A token's hash as the file keeps it.
    static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// A new token: `slt_` and 64 hex digits of the system's CSPRNG.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return "slt_" + (0..<4).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// The identity `token` stands for at `now`, or nil (unknown or expired).
    func identity(of token: String, now: Int64) -> Identity? {
        let h = Self.hash(token)
        guard let e = entries.first(where: { $0.hash == h }) else { return nil }
        if let expires = e.identity.expires, now >= expires { return nil }
        return e.identity
    }

    /// Parses the file's text; `path` names it in errors (with the line).
    init(text: String, path: String) throws(ServerError) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard lines.first.map(String.init) == Self.header else { throw ServerError("\(path):1: not a sightline-server token file (expected \"\(Self.header)\")") }
        for (i, line) in lines.enumerated().dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let roles: Set<Role>
            do { roles = try Role.parseList(f.count == 5 ? f[3] : "") } catch { throw ServerError("\(path):\(i + 1): \(error)") }
            guard f.count == 5, f[0].count == 64, f[0].utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
                  !f[1].isEmpty, f[4] == "-" || Int64(f[4]) != nil else {
                throw ServerError("\(path):\(i + 1): expected HASH<TAB>REQUESTER<TAB>AGENCY<TAB>ROLES<TAB>EXPIRES")
            }
            entries.append(Entry(hash: f[0], identity: Identity(requester: f[1], agency: f[2], roles: roles, expires: Int64(f[4]))))
        }
    }

    init() {}

    /// The file's text.
    var text: String {
        Self.header + "\n" + entries.map { e in
            "\(e.hash)\t\(e.identity.requester)\t\(e.identity.agency)\t\(Role.text(e.identity.roles))\t\(e.identity.expires.map(String.init) ?? "-")\n"
        }.joined()
    }

    /// The file at `path`; an empty set when there is none and `missingIsEmpty`.
    static func read(_ path: String, missingIsEmpty: Bool = false) throws(ServerError) -> TokenFile {
        guard let bytes = try readFile(path) else {
            if missingIsEmpty { return TokenFile() }
            throw ServerError("\(path): no such token file (make one with `sightline-server token add --tokens \(path) …`)")
        }
        return try TokenFile(text: String(decoding: bytes, as: UTF8.self), path: path)
    }

    /// Writes the file at `path` atomically, mode 0600 whatever the umask.
    func write(_ path: String) throws(ServerError) {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServerError.system("open", temporary) }
        var ok = fchmod(fd, 0o600) == 0
        let bytes = Array(text.utf8)
        var done = 0
        while ok && done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            ok = n > 0
            if ok { done += n }
        }
        ok = ok && fsync(fd) == 0
        let failure = ok ? nil : ServerError.system("write", temporary)
        close(fd)
        if let failure { unlink(temporary); throw failure }
        guard rename(temporary, path) == 0 else { let e = ServerError.system("rename", path); unlink(temporary); throw e }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let dfd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// The bytes of `path`, nil when it does not exist.
    static func readFile(_ path: String) throws(ServerError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { if errno == ENOENT { return nil }; throw ServerError.system("open", path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw ServerError.system("read", path) }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }
}

/// A failure of the service's own (not the store's): a message for the operator.
struct ServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
    static func system(_ operation: String, _ path: String) -> ServerError {
        ServerError("\(operation) \(path): \(String(cString: strerror(errno)))")
    }
}
