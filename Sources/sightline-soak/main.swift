// The chaos soak (issue 15; Scripts/soak.sh runs it):
//
//   sightline-soak run DIR MINUTES SEED CLI   the soak: drives a writer it kills at random,
//                                             reads in-process and through the CLI (read-only
//                                             processes), checks everything against an oracle
//   sightline-soak writer DIR SEED ORIGIN     the writer child: commands on stdin, "OK" on stdout
//
// Exit status of `run`: 0 only when every check held.
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
switch (arguments.count, arguments.count > 1 ? arguments[1] : "") {
case (5, "writer"):
    guard let seed = UInt64(arguments[3]), let origin = Int64(arguments[4]) else { break }
    SoakWriter.run(directory: arguments[2], seed: seed, origin: origin)
case (6, "run"):
    guard let minutes = Double(arguments[3]), let seed = UInt64(arguments[4]) else { break }
    let soak = Soak(directory: arguments[2], minutes: minutes, seed: seed, cli: arguments[5], soakBinary: arguments[0])
    exit(soak.run() ? 0 : 1)
default:
    break
}
SoakWriter.say("usage: sightline-soak run DIR MINUTES SEED CLI | writer DIR SEED ORIGIN")
exit(2)
