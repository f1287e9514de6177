// Child process of the crash tests: appends to a write-ahead log until killed, writing
// "ACK <sequence>\n" to standard output after each append returns (that is, once it is
// durable). Each line is one write(2), so a kill never leaves a line half-reported as whole.
#if canImport(Glibc)
import Glibc
#endif
@_spi(Testing) import Sightline

func say(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { _ = write(fd, $0.baseAddress, $0.count) }
}

guard CommandLine.arguments.count == 2 else {
    say(2, "usage: sightline-crash-writer LOG-PATH\n")
    exit(2)
}
do {
    try LogTesting.appendForever(path: CommandLine.arguments[1]) { sequence in say(1, "ACK \(sequence)\n") }
} catch {
    say(2, "sightline-crash-writer: \(error)\n")
    exit(1)
}
