/// A day's rows as the export reads them: a `SightingBatch` filled straight from the decoded
/// blocks (no `Sighting` per row, no ordering by the query — the export orders the rows
/// itself). A `MatchSink`, so the planner's pruning, retention and sharing rules apply as
/// for any query.
struct LakeRows: MatchSink, Sendable {
    var batch = SightingBatch()

    init(_ plan: QueryPlan) {}

    mutating func add(_ d: DecodedColumns, row: Int, plate: Plate) {
        batch.appendUnchecked(plate: plate, time: d.times[row], latitudeE7: d.latitudes[row], longitudeE7: d.longitudes[row],
                              camera: d.cameras[row], confidence: d.confidences[row], regionCode: d.regions[row],
                              image: d.images.isEmpty ? nil : d.images[row])
    }

    mutating func add(_ other: SightingBatch, row: Int) { batch.appendRow(row, of: other) }

    mutating func merge(_ other: consuming LakeRows) { batch.append(contentsOf: other.batch) }
}
