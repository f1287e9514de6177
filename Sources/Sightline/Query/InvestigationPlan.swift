/// The plan of an investigative query (intersect, convoy, frequent locations): the planned
/// queries it runs, in order, and what it may expose before it runs. `sightline explain`
/// prints it.
public struct InvestigationPlan: Sendable {
    /// One planned query of the investigation.
    public struct Stage: Sendable {
        /// What the stage reads, e.g. "window 2" or "companions at the plate's cameras".
        public var name: String
        /// Its plan.
        public var plan: QueryPlan
    }

    /// The stages, in the order they run.
    public var stages: [Stage]
    /// At most this many distinct plates and sightings are returned (upper bounds from the
    /// indexes, known before the answer is computed).
    public var exposureBound: (plates: Int, sightings: Int)
    /// What the bound assumes, in words (printed by `explain`).
    public var exposureNote: String
}

extension StoreSnapshot {
    /// The plan of `intersect(windows, minimum:)`: one area query per window. A plate
    /// returned is in at least `minimum` windows, so the plates are bounded by the windows'
    /// plate bounds summed and divided by `minimum`.
    public func explainIntersect(_ windows: [IntersectionWindow], minimum: Int? = nil,
                                 filters: QueryFilters = QueryFilters()) throws(SightlineError) -> InvestigationPlan {
        guard !windows.isEmpty else { throw .invalidArgument("intersect needs at least one window") }
        let k = minimum ?? windows.count
        guard (1...windows.count).contains(k) else { throw .invalidArgument("--min \(k) is outside 1…\(windows.count)") }
        var unlimited = filters
        unlimited.limit = nil
        var stages: [InvestigationPlan.Stage] = []
        var plates = 0, sightings = 0
        for (i, w) in windows.enumerated() {
            let plan = try plan(Query(.area(w.area), time: w.time, filters: unlimited), countOnly: true)
            stages.append(.init(name: "window \(i + 1)", plan: plan))
            plates += plan.exposureBound.plates
            sightings += plan.exposureBound.sightings
        }
        return InvestigationPlan(stages: stages, exposureBound: (plates / k, sightings),
                                 exposureNote: "plates seen in at least \(k) of \(windows.count) windows; sightings inside them")
    }

    /// The plan of `convoy(plate, within:, time:)`. Its second stage depends on the plate's
    /// cameras and times, so the plate's history is read (not returned) to plan it.
    public func explainConvoy(_ plate: Plate, within: Duration, time: TimeRange = .all) throws(SightlineError) -> InvestigationPlan {
        let window = within.milliseconds
        guard window >= 0 else { throw .invalidArgument("--within must not be negative") }
        let history = try plan(Query(.history(plate), time: time))
        var stages = [InvestigationPlan.Stage(name: "the plate's history", plan: history)]
        guard let companions = try companionsPlan(plate, within: window, time: time) else {
            return InvestigationPlan(stages: stages, exposureBound: (0, 0), exposureNote: "the plate has no sighting in the range")
        }
        stages.append(.init(name: "companions at the plate's \(companions.cameraWindows!.cameras.count) cameras", plan: companions))
        let bound = companions.exposureBound
        return InvestigationPlan(stages: stages, exposureBound: bound,
                                 exposureNote: "rows of the blocks meeting a window of one of the plate's cameras")
    }

    /// The plan of `frequentLocations(plate, …, time:)`: the plate's history; one plate exposed.
    public func explainFrequent(_ plate: Plate, time: TimeRange = .all) throws(SightlineError) -> InvestigationPlan {
        let history = try plan(Query(.history(plate), time: time))
        return InvestigationPlan(stages: [.init(name: "the plate's history", plan: history)],
                                 exposureBound: (history.estimatedRows > 0 ? 1 : 0, history.estimatedRows),
                                 exposureNote: "the plate's own sightings, grouped by cell")
    }
}
