/// Cuts a stream of byte chunks into lines and calls back once per line (without its newline,
/// as bytes valid only during the call), with its 1-based number and the bytes consumed through
/// it. A line split across chunks is joined in one reused buffer; nothing is allocated per line.
struct LineSplitter {
    private var pending: [UInt8] = []
    private(set) var number = 0
    private(set) var consumed = 0

    mutating func push(_ raw: UnsafeRawBufferPointer,
                       _ body: (UnsafeRawBufferPointer, Int, Int) throws(IngestFailure) -> Void) throws(IngestFailure) {
        let n = raw.count
        guard n > 0, let base = raw.baseAddress else { return }
        var start = 0
        while start < n {
            guard let newline = memchr(base + start, 0x0A, n - start) else { break }
            let end = base.distance(to: UnsafeRawPointer(newline))
            number += 1
            if pending.isEmpty {
                consumed += end - start + 1
                try body(UnsafeRawBufferPointer(rebasing: raw[start..<end]), number, consumed)
            } else {
                pending.append(contentsOf: raw[start..<end])
                consumed += pending.count + 1
                try withPending(body)
                pending.removeAll(keepingCapacity: true)
            }
            start = end + 1
        }
        if start < n { pending.append(contentsOf: raw[start..<n]) }
    }

    /// The last line, when the source does not end with a newline.
    mutating func finish(_ body: (UnsafeRawBufferPointer, Int, Int) throws(IngestFailure) -> Void) throws(IngestFailure) {
        guard !pending.isEmpty else { return }
        number += 1
        consumed += pending.count
        try withPending(body)
        pending.removeAll()
    }

    private func withPending(_ body: (UnsafeRawBufferPointer, Int, Int) throws(IngestFailure) -> Void) throws(IngestFailure) {
        let (number, consumed) = (self.number, self.consumed)
        let failure: IngestFailure? = pending.withUnsafeBytes { bytes in
            do throws(IngestFailure) { try body(bytes, number, consumed); return nil } catch { return error }
        }
        if let failure { throw failure }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
