// The libFuzzer entry points. One binary holds every target; SIGHTLINE_FUZZ_TARGET names the
// one to run (Scripts/fuzz.sh sets it), SIGHTLINE_FUZZ_SEEDS=DIR writes the seed corpora
// instead. libFuzzer supplies `main` (the module is built with -parse-as-library).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The target chosen at start-up; set once, before libFuzzer calls any input.
nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    if let directory = getenv("SIGHTLINE_FUZZ_SEEDS").map({ String(cString: $0) }) {
        do {
            try SeedCorpus.write(into: directory)
            exit(0)
        } catch {
            say("sightline-fuzz: writing seeds failed: \(error)\n")
            exit(1)
        }
    }
    let name = getenv("SIGHTLINE_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget.all.first(where: { $0.name == name }) else {
        say("sightline-fuzz: set SIGHTLINE_FUZZ_TARGET to one of: \(FuzzTarget.all.map(\.name).joined(separator: " "))\n")
        exit(2)
    }
    selected = target
    FuzzScratch.prepare()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected!.run(bytes)
    return 0
}

/// One fuzz target: a name (Scripts/fuzz.sh --list) and what it does with an input.
/// Invariant of every target: a typed error or a correct answer — a crash, a trap (a
/// failed check below calls `fuzzCheck`), a hang or an unbounded allocation is a finding.
struct FuzzTarget: Sendable {
    let name: String
    let run: @Sendable ([UInt8]) -> Void

    static let all: [FuzzTarget] = [
        FuzzTarget(name: "segment", run: StoreFileTargets.segment),
        FuzzTarget(name: "sealed", run: StoreFileTargets.sealed),
        FuzzTarget(name: "wal", run: StoreFileTargets.writeAheadLog),
        FuzzTarget(name: "manifest", run: StoreFileTargets.manifest),
        FuzzTarget(name: "deletion-log", run: StoreFileTargets.deletionLog),
        FuzzTarget(name: "alert-log", run: StoreFileTargets.alertLog),
        FuzzTarget(name: "audit-log", run: StoreFileTargets.auditLog),
        FuzzTarget(name: "rules", run: StoreFileTargets.rules),
        FuzzTarget(name: "policy-files", run: StoreFileTargets.policyFiles),
        FuzzTarget(name: "csv", run: TextTargets.csv),
        FuzzTarget(name: "ndjson", run: TextTargets.ndjson),
        FuzzTarget(name: "query-text", run: TextTargets.queryText),
        FuzzTarget(name: "control-request", run: TextTargets.controlRequest),
        FuzzTarget(name: "export-manifest", run: LakeTargets.exportManifest),
        FuzzTarget(name: "parquet", run: LakeTargets.parquet),
    ]
}

/// Writes `text` to standard error (one write: lines never interleave).
func say(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

/// Stops the run with a finding: libFuzzer saves the input that broke `what`.
func fuzzCheck(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if !condition() {
        say("sightline-fuzz: invariant broken: \(what())\n")
        abort()
    }
}

/// A private directory (on /dev/shm when there is one) for targets whose readers take a
/// path: each input is written there first.
enum FuzzScratch {
    nonisolated(unsafe) static var directory = ""

    static func prepare() {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
        directory = "\(base)/sightline-fuzz-\(getpid())"
        mkdir(directory, 0o700)
        atexit { _ = FuzzScratch.removeAll() }
    }

    /// Writes `bytes` as `name` in the scratch directory (replacing it); returns its path.
    @discardableResult
    static func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = "\(directory)/\(name)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot write \(path)")
        var done = 0
        bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                precondition(n > 0, "cannot write \(path)")
                done += n
            }
        }
        close(fd)
        return path
    }

    /// Removes `name` from the scratch directory, if there.
    static func remove(_ name: String) { unlink("\(directory)/\(name)") }

    @discardableResult
    static func removeAll() -> Int32 {
        guard !directory.isEmpty, let d = opendir(directory) else { return 0 }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { unlink("\(directory)/\(name)") }
        }
        closedir(d)
        return rmdir(directory)
    }
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(_ argc: UnsafeMutablePointer<Int32>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                             _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The program's entry when SwiftPM renames an executable's `main` to `<module>_main` (it
/// does for testable builds): hands over to libFuzzer's driver, as its own `main` would.
@_cdecl("sightline_fuzz_main")
public func sightlineFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzerTestOneInput(data, size) }
}
