import Dispatch

/// Appends parsed batches to a store on a serial queue while the caller parses the next ones,
/// at most two in flight (memory stays bounded and the parser waits when the store falls
/// behind). The first failure stops later appends and is reported by the next `submit` or by
/// `finish`. Each batch carries the source line and byte its last row came from; the highest
/// acknowledged one is how far a failed ingest got.
final class BatchAppender: @unchecked Sendable {
    private let store: Store
    private let queue = DispatchQueue(label: "sightline.ingest.append")
    private static let slots = 2
    private struct State {
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var stored = 0, duplicates = 0
        var acknowledgedLines = 0, acknowledgedBytes = 0
        var failure: SightlineError?
        var spare: [SightingBatch] = []
    }
    private let state = Locked(State())

    init(_ store: Store) { self.store = store }

    /// Hands `ready` to the append queue, waiting (blocking) for a free slot.
    func submit(_ ready: IngestSession.Ready) throws(SightlineError) {
        let failure = state.withLock(waitingUntil: { $0.inFlight < Self.slots || $0.failure != nil }) { s -> SightlineError? in
            if s.failure == nil { s.inFlight += 1 }
            return s.failure
        }
        if let failure { throw failure }
        enqueue(ready)
    }

    /// Hands `ready` to the append queue, suspending (never blocking a thread) for a free slot.
    func submit(_ ready: IngestSession.Ready) async throws(SightlineError) {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { s -> Bool in
                if s.inFlight < Self.slots || s.failure != nil {
                    s.inFlight += 1
                    return true
                }
                s.waiters.append(c)  // `release` hands its slot over
                return false
            }
            if granted { c.resume() }
        }
        if let failure = state.withLock({ $0.failure }) {
            release()
            throw failure
        }
        enqueue(ready)
    }

    private func enqueue(_ ready: IngestSession.Ready) {
        queue.async { [self] in
            defer { release() }
            guard state.withLock({ $0.failure }) == nil else { return }
            var rows = ready.batch
            do throws(SightlineError) {
                let r = try store.append(rows)
                rows.removeAll()  // in place: the parser reuses its capacity
                state.withLock { s in
                    s.stored += r.stored
                    s.duplicates += r.duplicates
                    s.acknowledgedLines = ready.lastLine
                    s.acknowledgedBytes = ready.endOffset
                    s.spare.append(rows)
                }
            } catch {
                state.withLock { $0.failure = $0.failure ?? error }
                state.broadcast()  // a blocked `submit` sees the failure
            }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }  // the slot passes to it: inFlight stays
            s.inFlight -= 1
            return nil
        }
        if let next { next.resume() } else { state.broadcast() }
    }

    /// An emptied batch whose capacity the parser may reuse.
    func recycled() -> SightingBatch? { state.withLock { $0.spare.popLast() } }

    /// What the appends acknowledged so far, into `summary`.
    func record(into summary: inout IngestSummary) {
        let s = state.withLock { $0 }
        summary.stored = s.stored
        summary.duplicates = s.duplicates
        summary.acknowledgedLines = s.acknowledgedLines
        summary.acknowledgedBytes = s.acknowledgedBytes
    }

    /// Waits (blocking) for every submitted append; the first failure, if any.
    func finish() -> SightlineError? {
        queue.sync {}
        return state.withLock { $0.failure }
    }

    /// Waits (suspending) for every submitted append; the first failure, if any.
    func finish() async -> SightlineError? {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in queue.async { c.resume() } }
        return state.withLock { $0.failure }
    }
}
