import Glibc
@_spi(Benchmarks) @testable import Sightline

/// A child process whose standard output (and, if asked, standard error) the test reads.
struct ChildProcess {
    let pid: pid_t
    private let output: Int32

    /// Starts `path` with `arguments`.
    init(_ path: String, _ arguments: [String], captureStandardError: Bool = false) throws {
        _ = testKeyring  // SIGHTLINE_KEYRING is set before any child starts
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SightlineError.io(operation: "pipe", path: "", errno: errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        if captureStandardError { posix_spawn_file_actions_adddup2(&actions, fds[1], 2) }
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        close(fds[1])
        guard spawned == 0 else { close(fds[0]); throw SightlineError.io(operation: "posix_spawn", path: path, errno: spawned) }
        self.pid = pid
        output = fds[0]
    }

    /// Reads everything the child wrote until it closed its end, then reaps it; returns
    /// (exit status, output).
    func finish() -> (Int32, String) {
        let (status, output) = finishRaw()
        return ((status >> 8) & 0xFF, output)
    }

    /// `finish`, with the raw wait status.
    private func finishRaw() -> (Int32, String) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        close(output)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (status, String(decoding: bytes, as: UTF8.self))
    }

    /// Reads everything, reaps the child; returns the signal that ended it (0 when it
    /// exited), its exit status, and its output.
    func finishWithSignal() -> (signal: Int32, status: Int32, output: String) {
        let (raw, output) = finishRaw()
        return (raw & 0x7F, (raw >> 8) & 0xFF, output)
    }

    /// Kills the child with SIGKILL, then `finish()`es; returns its output.
    func kill9() -> String { kill9WithStatus().output }

    /// Kills the child with SIGKILL; returns its output and whether the SIGKILL is what
    /// ended it (false when it had already exited or died of something else).
    func kill9WithStatus() -> (output: String, killedRunning: Bool) {
        kill(pid, SIGKILL)
        let (status, output) = finishRaw()
        return (output, status & 0x7F == SIGKILL)
    }
}
