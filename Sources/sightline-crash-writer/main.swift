// Child process of the crash tests: writes until killed, writing "ACK <n>\n" to standard
// output after each write returns (that is, once it is durable). Each line is one write(2),
// so a kill never leaves a line half-reported as whole.
//
//   sightline-crash-writer log PATH          append to a write-ahead log
//   sightline-crash-writer store DIR FIRST   append batches FIRST, FIRST+1, … to a store
//   sightline-crash-writer alerts DIR FIRST  the same with a world geofence: every row alerts
//   sightline-crash-writer read DIR WHO FIRST  audited reads n = FIRST, … ("read n") by WHO
//   sightline-crash-writer compact DIR ROWS  compact the store (day partitions), print DONE
//   sightline-crash-writer purge DIR PLATE   purge a plate from the store, print DONE
//   sightline-crash-writer rotate DIR TIMES  rotate the store's key-encryption key TIMES times, print DONE
#if canImport(Glibc)
import Glibc
#endif
import SightlineTestSupport

func say(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { _ = write(fd, $0.baseAddress, $0.count) }
}

let arguments = CommandLine.arguments
do {
    switch (arguments.count, arguments.count > 1 ? arguments[1] : "") {
    case (3, "log"):
        try CrashWriterEntryPoints.appendForever(path: arguments[2]) { sequence in say(1, "ACK \(sequence)\n") }
    case (4, "store"):
        guard let first = UInt64(arguments[3]) else { break }
        try CrashWriterEntryPoints.appendToStoreForever(directory: arguments[2], first: first) { n in say(1, "ACK \(n)\n") }
    case (4, "alerts"):
        guard let first = UInt64(arguments[3]) else { break }
        try CrashWriterEntryPoints.appendToStoreForever(directory: arguments[2], first: first, alerting: true) { n in say(1, "ACK \(n)\n") }
    case (5, "read"):
        guard let first = UInt64(arguments[4]) else { break }
        try CrashWriterEntryPoints.readAuditedForever(directory: arguments[2], requester: arguments[3], first: first) { n in say(1, "ACK \(n)\n") }
    case (4, "compact"):
        guard let target = Int(arguments[3]) else { break }
        try CrashWriterEntryPoints.compactStore(directory: arguments[2], targetRows: target)
        say(1, "DONE\n")
        exit(0)
    case (4, "rotate"):
        guard let times = Int(arguments[3]) else { break }
        try CrashWriterEntryPoints.rotateKeys(directory: arguments[2], times: times)
        say(1, "DONE\n")
        exit(0)
    case (4, "purge"):
        try CrashWriterEntryPoints.purgeStore(directory: arguments[2], plate: arguments[3])
        say(1, "DONE\n")
        exit(0)
    default:
        break
    }
    say(2, "usage: sightline-crash-writer log PATH | store DIR FIRST | alerts DIR FIRST | read DIR WHO FIRST | compact DIR ROWS | purge DIR PLATE | rotate DIR TIMES\n")
    exit(2)
} catch {
    say(2, "sightline-crash-writer: \(error)\n")
    exit(1)
}
