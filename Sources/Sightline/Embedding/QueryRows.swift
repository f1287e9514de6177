/// A query's answer as an `AsyncSequence` of ordered row batches, for servers: each batch is
/// read on the library's threads (the caller's task only waits), and cancelling the task
/// stops the read between blocks (`SightlineError.cancelled`).
///
/// ```swift
/// for try await batch in QueryRows(snapshot, query) { send(batch) }
/// ```
public struct QueryRows: AsyncSequence, Sendable {
    /// A batch of rows, in the query's order.
    public typealias Element = [Sighting]
    /// What a read throws.
    public typealias Failure = SightlineError

    /// The cursor the rows come from: its `pageToken` resumes after the last batch read,
    /// its `statistics` say what was read.
    public let cursor: QueryCursor

    /// The rows of `query` on `snapshot`, after `token` when given.
    /// - Throws: `invalidPageToken` when the token belongs to another query.
    public init(_ snapshot: StoreSnapshot, _ query: Query, after token: QueryPageToken? = nil,
                options: CursorOptions = CursorOptions()) throws(SightlineError) {
        cursor = try snapshot.cursor(query, after: token, options: options)
    }

    /// The iterator: one cursor read per batch.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let cursor: QueryCursor

        /// The next batch; nil at the end.
        public mutating func next() async throws(SightlineError) -> [Sighting]? {
            try await next(isolation: nil)
        }

        /// The next batch, read on the library's threads; nil at the end.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(SightlineError) -> [Sighting]? {
            if Task.isCancelled { throw .cancelled }
            let cursor = self.cursor
            // The handler's operation cannot throw typed errors: carry them in a Result.
            let result = await withTaskCancellationHandler { () async -> Result<[Sighting]?, SightlineError> in
                do throws(SightlineError) {
                    return .success(try await BlockingWork.run { () throws(SightlineError) -> [Sighting]? in try cursor.next() })
                } catch {
                    return .failure(error)
                }
            } onCancel: {
                cursor.cancel()
            }
            return try result.get()
        }
    }

    /// An iterator over the batches.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(cursor: cursor) }
}
