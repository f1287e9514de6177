/// Opened (decrypted and authenticated) chunks of sealed files, shared by every reader in the
/// process within a memory budget: a warm query reads a sealed segment at the cost of a clear
/// one, instead of opening the same 16 KiB chunk once per column it reads from it. Entries
/// are dropped first in, first out; a reader's are dropped when it goes (`remove(file:)`), so a
/// replaced segment's plaintext does not outlive its last snapshot.
final class SealedChunkCache: @unchecked Sendable {
    /// The process's cache.
    static let shared = SealedChunkCache(budget: 128 << 20)

    private struct Key: Hashable {
        let file: UInt64
        let index: Int
    }
    private struct State {
        var chunks: [Key: [UInt8]] = [:]
        var order: [Key] = []
        var head = 0
        var bytes = 0
        var nextFile: UInt64 = 1
    }
    private let state = Locked(State())
    let budget: Int

    init(budget: Int) { self.budget = budget }

    /// A fresh id for one open sealed file.
    func newFileID() -> UInt64 { state.withLock { s in defer { s.nextFile += 1 }; return s.nextFile } }

    /// Copies `range` of chunk `index` of `file` into `into` when cached; false when not.
    func copy(file: UInt64, index: Int, range: Range<Int>, into: UnsafeMutableRawBufferPointer) -> Bool {
        state.withLock { s in
            guard let chunk = s.chunks[Key(file: file, index: index)] else { return false }
            debugPrecondition(range.upperBound <= chunk.count && range.count == into.count, "cached chunk range")
            chunk.withUnsafeBytes { into.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[range])) }
            return true
        }
    }

    /// Caches an opened chunk, dropping the oldest entries beyond the budget.
    func insert(file: UInt64, index: Int, _ chunk: [UInt8]) {
        guard chunk.count <= budget else { return }
        state.withLock { s in
            let key = Key(file: file, index: index)
            guard s.chunks.updateValue(chunk, forKey: key) == nil else { return }
            s.order.append(key)
            s.bytes += chunk.count
            while s.bytes > budget, s.head < s.order.count {
                let old = s.order[s.head]
                s.head += 1
                if let dropped = s.chunks.removeValue(forKey: old) { s.bytes -= dropped.count }
            }
            if s.head > 4096 && s.head * 2 > s.order.count {  // compact the queue now and then
                s.order.removeFirst(s.head)
                s.head = 0
            }
        }
    }

    /// Drops every chunk of `file` (its reader is gone).
    func remove(file: UInt64) {
        state.withLock { s in
            for key in s.chunks.keys where key.file == file { s.bytes -= s.chunks.removeValue(forKey: key)!.count }
        }
    }
}

@inline(__always)
func debugPrecondition(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    assert(condition(), message())
}
