import ServiceLifecycle
import Sightline

/// An `AsyncStore` run by swift-service-lifecycle's `ServiceGroup`: while the service runs,
/// buffered rows are flushed every `flushInterval` (they are durable in the log already;
/// the flush bounds how long they wait to reach a segment) and the store's own maintenance
/// timer enforces retention; on graceful shutdown (SIGTERM through the group) the store is
/// flushed and closed — the lock released — before `run()` returns.
///
/// ```swift
/// let store = try await AsyncStore(directory: path)
/// let group = ServiceGroup(services: [StoreService(store: store), httpServer],
///                          gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public struct StoreService: Service {
    /// The store the service closes on shutdown.
    public let store: AsyncStore
    /// How often buffered rows are flushed; nil leaves it to the buffer size.
    public let flushInterval: Duration?

    /// A service for `store`, flushing every `flushInterval` when given.
    public init(store: AsyncStore, flushInterval: Duration? = .seconds(60)) {
        self.store = store
        self.flushInterval = flushInterval
    }

    /// Runs until graceful shutdown (or cancellation), then flushes and closes the store.
    /// - Throws: the flush's or close's `SightlineError`.
    public func run() async throws {
        if let flushInterval {
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: flushInterval) } catch { return }  // cancelled: shutting down
                    try? await store.flush()  // a failure poisons the store; close reports it
                }
            }
        } else {
            try? await gracefulShutdown()  // throws only when cancelled: close all the same
        }
        try await store.flush()
        try await store.close()
    }
}
