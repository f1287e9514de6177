/// A `Store` for servers: every entry point is `async` and runs its blocking part — the
/// append's fsync, a flush, a scan, a compaction — on threads the library owns, so a
/// server's event loops and Swift's cooperative pool never block on I/O.
///
/// ```swift
/// let store = try await AsyncStore(directory: "/var/lib/sightings")
/// try await store.append(batch)
/// for try await rows in try store.rows(Query(.history(plate))) { send(rows) }
/// try await store.close()
/// ```
///
/// It wraps one `Store` (the owner of the directory); `store` gives the blocking API for
/// code already on its own threads. Pair it with `StoreService` (module
/// `SightlineService`) to close it on a graceful shutdown.
public final class AsyncStore: Sendable {
    /// The blocking store underneath.
    public let store: Store

    /// Opens (or creates) the store at `directory`, recovering what a crash left, on the
    /// library's threads.
    /// - Throws: what `Store.init` throws (`storeLocked`, `corruptFile`, I/O errors, …).
    public init(directory: String, options: StoreOptions = StoreOptions(),
                fileSystem: any FileSystem = PosixFileSystem()) async throws(SightlineError) {
        store = try await BlockingWork.run { () throws(SightlineError) -> Store in
            try Store(directory: directory, options: options, fileSystem: fileSystem)
        }
    }

    /// Wraps an open store.
    public init(_ store: Store) { self.store = store }

    /// The store's directory.
    public var directory: String { store.directory }

    /// Runs `body` — any blocking call of the store: an investigation on a snapshot, a rule
    /// change, a policy change — on the library's threads, and suspends the caller until it
    /// is done: the one way for a server to reach the rest of `Store`'s API without blocking
    /// an event loop.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (Store) throws(SightlineError) -> T) async throws(SightlineError) -> T {
        let store = self.store
        return try await BlockingWork.run { () throws(SightlineError) -> T in try body(store) }
    }

    /// Appends `batch` (see `Store.append`); returns once it is durable per the durability mode.
    @discardableResult
    public func append(_ batch: SightingBatch) async throws(SightlineError) -> AppendResult {
        let store = self.store
        return try await BlockingWork.run { () throws(SightlineError) -> AppendResult in try store.append(batch) }
    }

    /// Writes buffered rows to a segment (see `Store.flush`).
    public func flush() async throws(SightlineError) {
        let store = self.store
        try await BlockingWork.run { () throws(SightlineError) in try store.flush() }
    }

    /// Compacts (see `Store.compact`).
    @discardableResult
    public func compact(_ compaction: CompactionOptions = CompactionOptions()) async throws(SightlineError) -> RewriteSummary {
        let store = self.store
        return try await BlockingWork.run { () throws(SightlineError) -> RewriteSummary in try store.compact(compaction) }
    }

    /// Removes every sighting of `plate` within `time` from disk (see `Store.purge`).
    @discardableResult
    public func purge(_ plate: Plate, time: TimeRange = .all) async throws(SightlineError) -> RewriteSummary {
        let store = self.store
        return try await BlockingWork.run { () throws(SightlineError) -> RewriteSummary in try store.purge(plate, time: time) }
    }

    /// The store's shape (see `Store.statistics`).
    public func statistics(compaction: CompactionOptions? = nil) async throws(SightlineError) -> StoreStatistics {
        let store = self.store
        return try await BlockingWork.run { () throws(SightlineError) -> StoreStatistics in try store.statistics(compaction: compaction) }
    }

    /// A snapshot read on behalf of `access` (no I/O: it takes references to the live
    /// segments and buffers).
    public func snapshot(access: AccessContext = .unattributed) -> StoreSnapshot { store.snapshot(access: access) }

    /// `query`'s whole answer on the current snapshot (see `StoreSnapshot.run`), read on
    /// behalf of `access` (audited). For large answers prefer `rows(_:after:options:access:)`.
    public func run(_ query: Query, access: AccessContext = .unattributed) async throws(SightlineError) -> QueryResult {
        let snapshot = store.snapshot(access: access)
        return try await BlockingWork.run { () throws(SightlineError) -> QueryResult in try snapshot.run(query) }
    }

    /// The number of rows matching `query` (see `StoreSnapshot.count`).
    public func count(_ query: Query, access: AccessContext = .unattributed) async throws(SightlineError) -> QueryResult {
        let snapshot = store.snapshot(access: access)
        return try await BlockingWork.run { () throws(SightlineError) -> QueryResult in try snapshot.count(query) }
    }

    /// `query`'s answer on the current snapshot, streamed in ordered batches, after `token`
    /// when given (a page token of the same query).
    /// - Throws: `invalidPageToken` when the token belongs to another query.
    public func rows(_ query: Query, after token: QueryPageToken? = nil, options: CursorOptions = CursorOptions(),
                     access: AccessContext = .unattributed) throws(SightlineError) -> QueryRows {
        try QueryRows(store.snapshot(access: access), query, after: token, options: options)
    }

    /// Closes the store (see `Store.close`): waits for the flush in flight and queued
    /// rewrites, syncs the log, releases the lock.
    public func close() async throws(SightlineError) {
        let store = self.store
        try await BlockingWork.run { () throws(SightlineError) in try store.close() }
    }
}
