import Foundation

/// A one-line progress display on standard error, when it is a terminal.
package struct TerminalProgress {
    package let enabled: Bool
    private let start = ContinuousClock.now
    private var last = ContinuousClock.now
    private var shown = false

    package init(enabled: Bool) { self.enabled = enabled }

    package mutating func update(rows: Int, bytes: Int, total: Int?) {
        guard enabled, ContinuousClock.now - last > .milliseconds(200) else { return }
        last = ContinuousClock.now
        let elapsed = max(seconds(last - start), 1e-6)
        var line = "\r\(rows) rows  \(String(format: "%.2f", Double(rows) / elapsed / 1e6)) M rows/s  \(formatBytes(bytes))"
        if let total, total > 0, bytes > 0 {
            let eta = elapsed * Double(total - bytes) / Double(bytes)
            line += " of \(formatBytes(total))  ETA \(String(format: "%.0f", eta)) s"
        }
        FileHandle.standardError.write(Data((line + "   ").utf8))
        shown = true
    }

    package mutating func clear() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    package mutating func finish() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)); shown = false }
    }
}
