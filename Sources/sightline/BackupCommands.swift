import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

/// `sightline backup STORE DIR` / `sightline backup --list DIR`: generations of a store in a
/// backup directory.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup",
        abstract: "Add a generation to a backup directory: an online, consistent copy of the store (segments copied once and shared between generations); --list lists the generations.",
        discussion: """
            Usage: sightline backup STORE DIR, or sightline backup --list DIR. Safe while the store is open and \
            being written: the copy holds the segments of one manifest and the write-ahead logs cut to their last \
            whole batch. A backup holds no key: it opens only with the store's keyring as it is when restored, so \
            rows a later purge or retention run deleted stay unreadable in every generation. Back the keyring up \
            apart from the backups (Docs/format.md, "Backup directory").
            """)
    @Flag(help: "List the generations of DIR.") var list = false
    @Argument(help: "STORE DIR (or, with --list, DIR).") var paths: [String]

    func validate() throws {
        if list, paths.count != 1 { throw ValidationError("backup --list takes one directory: sightline backup --list DIR") }
        if !list, paths.count != 2 { throw ValidationError("backup takes a store and a backup directory: sightline backup STORE DIR") }
    }

    func run() throws {
        do {
            if list {
                let generations = try StoreBackup.generations(in: paths[0])
                print(pad(["generation", "taken", "segments", "rows", "bytes", "new"]))
                for g in generations {
                    print(pad(["\(g.number)", Timestamp.rfc3339(g.takenAt), "\(g.segments)", "\(g.rows)",
                               formatBytes(Int(g.segmentBytes + g.otherBytes)), formatBytes(Int(g.newSegmentBytes + g.otherBytes))]))
                }
                return
            }
            let clock = ContinuousClock()
            let start = clock.now
            let g = try StoreBackup.take(of: paths[0], into: paths[1])
            print("backup:      generation \(g.number) in \(paths[1]) (store \(g.storeID))")
            print("segments:    \(g.segments) (\(formatBytes(Int(g.newSegmentBytes))) copied, \(formatBytes(Int(g.segmentBytes - g.newSegmentBytes))) shared with earlier generations)")
            print("rows:        \(g.rows) in segments")
            print("other files: \(formatBytes(Int(g.otherBytes))) (logs, alerts, audit, policy)")
            if g.holdsPlateKeySecret {
                print("note:        this store keeps its plate-key secret in its directory, so the backup holds it too")
            }
            print("time:        \(String(format: "%.2f", seconds(clock.now - start))) s")
        } catch { throw CommandFailure(error) }
    }

    private func pad(_ fields: [String]) -> String {
        let widths = [10, 24, 8, 12, 11, 11]
        return zip(fields, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces)
    }
}

/// `sightline restore DIR STORE [--generation N]`.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore",
        abstract: "Restore the latest generation of a backup directory (or --generation N) into a new store directory.",
        discussion: """
            STORE must not exist or be empty. The restore is recorded in the restored store's audit log. The \
            store opens with its keyring as it is now: files whose keys a purge or retention run destroyed after \
            the backup no longer open, and are named here (exit 1).
            """)
    @Argument(help: "Backup directory.") var backup: String
    @Argument(help: "The new store directory.") var store: String
    @Option(help: "The generation to restore (default: the latest).") var generation: Int?
    @OptionGroup var access: AccessArguments

    func run() throws {
        do {
            let g = try StoreBackup.restore(from: backup, generation: generation, to: store, access: access.context)
            print("restored:    generation \(g.number) (taken \(Timestamp.rfc3339(g.takenAt))) into \(store): \(g.segments) segments, \(g.rows) rows")
            let report = Store.verify(directory: store)
            guard report.isSound else {
                for p in report.problems { FileHandle.standardError.write(Data("cannot open: \(p)\n".utf8)) }
                FileHandle.standardError.write(Data("sightline: the restored store has \(report.problems.count) unreadable files (data keys destroyed by a deletion after the backup, or the wrong keyring)\n".utf8))
                throw ExitCode(1)
            }
            print("verified:    every file opens")
        } catch let e as ExitCode { throw e } catch { throw CommandFailure(error) }
    }
}
