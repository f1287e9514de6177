import Dispatch

/// Blocking work (fsync, reads, scans) run on threads the library owns, never on the
/// caller's: Swift's cooperative pool and NIO's event loops must not block on I/O.
enum BlockingWork {
    /// Where the work runs: a concurrent queue, so a long scan does not hold up an append.
    static let queue = DispatchQueue(label: "sightline.blocking-work", attributes: .concurrent)

    /// Runs `body` on `queue` and suspends the caller until it is done.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(SightlineError) -> T) async throws(SightlineError) -> T {
        let result: Result<T, SightlineError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(SightlineError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
