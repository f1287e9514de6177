import Metrics

/// The library's swift-metrics instruments for one store (dimension `store` = its
/// directory), made once when the store opens and recorded per batch, flush, rewrite or
/// query — never per row. Without `MetricsSystem.bootstrap` by the embedding service they
/// are no-ops; the library chooses no backend.
///
/// Names follow Prometheus conventions (`_total` counters, `_seconds` timers reported in
/// nanoseconds by swift-metrics and converted by the backend).
struct SightlineMetrics: Sendable {
    let rowsAppended: Counter
    let duplicates: Counter
    let flushes: Timer
    let rewrites: Timer
    let rowsDeleted: Counter
    let segments: Gauge
    let segmentBytes: Gauge
    let historyQueries: Timer
    let areaQueries: Timer
    let blocksRead: Counter
    let bytesRead: Counter
    let alertsRaised: Counter

    init(store: String, factory: (any MetricsFactory)?) {
        let d = [("store", store)]
        let factory = factory ?? MetricsSystem.factory
        rowsAppended = Counter(label: "sightline_rows_appended_total", dimensions: d, factory: factory)
        duplicates = Counter(label: "sightline_rows_duplicate_total", dimensions: d, factory: factory)
        flushes = Timer(label: "sightline_flush_duration_seconds", dimensions: d, factory: factory)
        rewrites = Timer(label: "sightline_rewrite_duration_seconds", dimensions: d, factory: factory)
        rowsDeleted = Counter(label: "sightline_rows_deleted_total", dimensions: d, factory: factory)
        segments = Gauge(label: "sightline_segments", dimensions: d, factory: factory)
        segmentBytes = Gauge(label: "sightline_segment_bytes", dimensions: d, factory: factory)
        historyQueries = Timer(label: "sightline_query_duration_seconds", dimensions: d + [("kind", "history")], factory: factory)
        areaQueries = Timer(label: "sightline_query_duration_seconds", dimensions: d + [("kind", "area")], factory: factory)
        blocksRead = Counter(label: "sightline_query_blocks_read_total", dimensions: d, factory: factory)
        bytesRead = Counter(label: "sightline_query_bytes_read_total", dimensions: d, factory: factory)
        alertsRaised = Counter(label: "sightline_alerts_total", dimensions: d, factory: factory)
    }
}

/// Rows rejected by the ingest parsers (not per store: parsing happens before a store).
let rowsRejectedCounter = Counter(label: "sightline_rows_rejected_total")

