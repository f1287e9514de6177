import Dispatch

/// The store's background maintenance timer, as its own part: it owns the timer, the pause
/// flag and the count of completed runs under its own lock, and knows nothing of what a run
/// does — the store hands it the work (retention, then compaction) when it starts it. A run
/// that finds nothing to do (the work returns false: the store is closing or poisoned) and a
/// run skipped while paused are not counted.
final class MaintenanceScheduler: Sendable {
    private struct State {
        var paused = false
        var timer: TimerBox?
        var runs = 0
        /// `stop()` was called: the store is closing; no timer starts again.
        var stopped = false
    }

    private let state = Locked(State())
    private let interval: Duration

    /// A scheduler that runs its work every `interval` once started.
    init(interval: Duration) { self.interval = interval }

    /// Whether the timer runs.
    var isRunning: Bool { state.withLock { $0.timer != nil } }

    /// Starts the timer, which calls `work` every interval on a utility thread (not while
    /// paused); does nothing when it runs already or the scheduler was stopped.
    func start(_ work: @escaping @Sendable () -> Bool) {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        let seconds = max(0.01, Double(interval.components.seconds) + Double(interval.components.attoseconds) * 1e-18)
        timer.schedule(deadline: .now() + seconds, repeating: seconds)
        timer.setEventHandler { [weak self] in
            guard let self, !self.state.withLock({ $0.paused }) else { return }
            guard work() else { return }
            self.state.withLock { $0.runs += 1 }
            self.state.broadcast()
        }
        let started = state.withLock { s -> Bool in
            guard s.timer == nil && !s.stopped else { return false }
            s.timer = TimerBox(timer)
            return true
        }
        if started { timer.resume() } else { timer.setEventHandler {}; timer.resume(); timer.cancel() }
    }

    /// Stops runs until `resume()` (a run under way finishes).
    func pause() { state.withLock { $0.paused = true } }
    /// Lets runs happen again.
    func resume() { state.withLock { $0.paused = false } }

    /// Completed runs so far.
    var runs: Int { state.withLock { $0.runs } }

    /// Blocks until `count` runs have completed (tests wait for this event instead of polling).
    func waitForRuns(_ count: Int) { state.withLock(waitingUntil: { $0.runs >= count }) { _ in } }

    /// Cancels the timer for good (the store is closing).
    func stop() {
        let timer = state.withLock { s -> TimerBox? in
            s.stopped = true
            defer { s.timer = nil }
            return s.timer
        }
        _ = timer  // released here, outside the lock: its deinit cancels the timer
    }
}

/// Owns a dispatch timer; cancels it when released.
final class TimerBox: @unchecked Sendable {
    let timer: any DispatchSourceTimer
    init(_ timer: any DispatchSourceTimer) { self.timer = timer }
    deinit { timer.cancel() }
}
