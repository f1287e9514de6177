import Testing
import Glibc
@testable import Sightline

/// The CLI end to end, as a user runs it: exit status and what it prints.
@Suite struct CommandLineTests {
    static var binary: String { String(CrashTests.writerPath.dropLast("-crash-writer".count)) }

    /// Runs the CLI; returns (exit status, standard output + standard error).
    static func run(_ arguments: [String]) throws -> (Int32, String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SightlineError.io(operation: "pipe", path: "", errno: errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let spawned = posix_spawn(&pid, binary, &actions, nil, argv, environ)
        close(fds[1])
        guard spawned == 0 else { close(fds[0]); throw SightlineError.io(operation: "posix_spawn", path: binary, errno: spawned) }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        close(fds[0])
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return ((status >> 8) & 0xFF, String(decoding: output, as: UTF8.self))
    }

    @Test func sampleWritesVerifiesAndLooksUpAPlate() throws {
        let dir = temporaryDirectory("cli")
        defer { removeTree(dir) }
        let (status, output) = try Self.run(["sample", "--rows", "30000", "--segment-rows", "10000", "--directory", dir])
        #expect(status == 0, "\(output)")
        #expect(output.contains("wrote       3 segments"), "\(output)")
        #expect(output.contains("verified    30000 rows"), "\(output)")
        #expect(output.contains("history"), "\(output)")

        let (inspected, report) = try Self.run(["inspect", "\(dir)/000000.sls"])
        #expect(inspected == 0 && report.contains("10000 rows") && report.contains("verified"), "\(report)")

        let (wrong, message) = try Self.run(["inspect", "\(dir)/000000.sls", "--secret", String(repeating: "ab", count: 16)])
        #expect(wrong != 0 && message.contains("different plate key secret"), "\(message)")

        let (missing, text) = try Self.run(["inspect", "\(dir)/nope.sls", "--secret", String(repeating: "ab", count: 16)])
        #expect(missing != 0 && text.contains("nope.sls"), "\(text)")
    }

    @Test func measureReportsSizeAndSpeedAsJSON() throws {
        let dir = temporaryDirectory("cli-measure")
        defer { removeTree(dir) }
        let (status, output) = try Self.run(["measure", "--workload", "tracks", "--rows", "20000", "--repetitions", "1", "--json", "\(dir)/m.json"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("bytes/sighting") && output.contains("decode time+lat+lon"), "\(output)")
        let json = String(decoding: try readFile("\(dir)/m.json"), as: UTF8.self)
        #expect(json.contains("\"bytesPerSighting\"") && json.contains("\"rows\" : 20000"), "\(json)")
    }

    @Test func badArgumentsFailWithAMessage() throws {
        let (status, output) = try Self.run(["measure", "--compression", "gzip", "--rows", "10"])
        #expect(status != 0 && output.contains("unknown compression"), "\(output)")
    }
}
