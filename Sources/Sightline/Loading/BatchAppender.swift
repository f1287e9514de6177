import Foundation

/// Appends parsed batches to a store on a serial queue while the caller parses the next ones,
/// at most two in flight (memory stays bounded and the parser waits when the store falls
/// behind). The first failure stops later appends and is reported by the next `submit` or by
/// `finish`. Each batch carries the source line and byte its last row came from; the highest
/// acknowledged one is how far a failed ingest got.
final class BatchAppender: @unchecked Sendable {
    private let store: Store
    private let queue = DispatchQueue(label: "sightline.ingest.append")
    private static let slots = 2
    private let condition = NSCondition()
    // Under `condition`:
    private var inFlight = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var stored = 0, duplicates = 0
    private var acknowledgedLines = 0, acknowledgedBytes = 0
    private var failure: SightlineError?
    private var spare: [SightingBatch] = []

    init(_ store: Store) { self.store = store }

    /// Hands `ready` to the append queue, waiting (blocking) for a free slot.
    func submit(_ ready: IngestSession.Ready) throws(SightlineError) {
        condition.lock()
        while inFlight >= Self.slots && failure == nil { condition.wait() }
        if let failure { condition.unlock(); throw failure }
        inFlight += 1
        condition.unlock()
        enqueue(ready)
    }

    /// Hands `ready` to the append queue, suspending (never blocking a thread) for a free slot.
    func submit(_ ready: IngestSession.Ready) async throws(SightlineError) {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            condition.lock()
            if inFlight < Self.slots || failure != nil {
                inFlight += 1
                condition.unlock()
                c.resume()
            } else {
                waiters.append(c)  // `release` hands its slot over
                condition.unlock()
            }
        }
        if let failure = locked({ failure }) {
            release()
            throw failure
        }
        enqueue(ready)
    }

    private func enqueue(_ ready: IngestSession.Ready) {
        queue.async { [self] in
            defer { release() }
            guard locked({ failure }) == nil else { return }
            var rows = ready.batch
            do throws(SightlineError) {
                let r = try store.append(rows)
                rows.removeAll()  // in place: the parser reuses its capacity
                locked {
                    stored += r.stored
                    duplicates += r.duplicates
                    acknowledgedLines = ready.lastLine
                    acknowledgedBytes = ready.endOffset
                    spare.append(rows)
                }
            } catch {
                locked { failure = failure ?? error }
            }
        }
    }

    private func release() {
        condition.lock()
        if !waiters.isEmpty {
            let next = waiters.removeFirst()  // the slot passes to it: inFlight stays
            condition.unlock()
            next.resume()
        } else {
            inFlight -= 1
            condition.signal()
            condition.unlock()
        }
    }

    /// An emptied batch whose capacity the parser may reuse.
    func recycled() -> SightingBatch? { locked { spare.popLast() } }

    /// What the appends acknowledged so far, into `summary`.
    func record(into summary: inout IngestSummary) {
        locked {
            summary.stored = stored
            summary.duplicates = duplicates
            summary.acknowledgedLines = acknowledgedLines
            summary.acknowledgedBytes = acknowledgedBytes
        }
    }

    /// Waits (blocking) for every submitted append; the first failure, if any.
    func finish() -> SightlineError? {
        queue.sync {}
        return locked { failure }
    }

    /// Waits (suspending) for every submitted append; the first failure, if any.
    func finish() async -> SightlineError? {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in queue.async { c.resume() } }
        return locked { failure }
    }

    private func locked<R>(_ body: () -> R) -> R {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }
}
