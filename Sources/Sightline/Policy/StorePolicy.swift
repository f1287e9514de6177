/// The store's policy as its files state it, in one value: what every read must state
/// (`ACCESS`), who owns which camera (`CAMERAS`), who may read whose rows (`POLICY`), how long
/// whose rows are kept (`RETENTION`, resolved against the registry), the legal holds in force
/// (`HOLDS`) and the guardrails of investigative queries (`GUARDRAILS`).
///
/// One function loads it — ``load(directory:fileSystem:fallbackRetention:)`` — and both the
/// owner (through ``PolicyBook``) and every read-only opener (at each snapshot) call it, so a
/// new policy file is added here once and honoured by both.
struct StorePolicy: Sendable {
    var accessRequirement = AccessRequirement.none
    var cameraRegistry = CameraRegistry()
    var sharingPolicy = SharingPolicy.open
    var retentionPolicy = RetentionPolicy.none
    var holds: [LegalHold] = []
    var investigationLimits = InvestigationLimits.off
    /// `StoreOptions.retention`: the period where the retention policy names none.
    var fallbackRetention: Duration?
    /// The retention policy resolved against the registry (nil: nothing expires); kept in
    /// step by every change of either.
    private(set) var retentionShape: RetentionShape?

    init(fallbackRetention: Duration?) {
        self.fallbackRetention = fallbackRetention
    }

    /// Every policy file in `directory` (a missing file is its default; a damaged one is
    /// `corruptFile`).
    /// `keys` open a sealed `HOLDS`.
    static func load(directory: String, fileSystem: any FileSystem, fallbackRetention: Duration?, keys: DataKeys?) throws(SightlineError) -> StorePolicy {
        var p = StorePolicy(fallbackRetention: fallbackRetention)
        p.investigationLimits = try GuardrailsFile.read(directory: directory, fileSystem: fileSystem)
        p.accessRequirement = try AccessFile.read(directory: directory, fileSystem: fileSystem)
        p.cameraRegistry = try CamerasFile.read(directory: directory, fileSystem: fileSystem)
        p.sharingPolicy = try PolicyFile.read(directory: directory, fileSystem: fileSystem)
        p.holds = try HoldsFile.read(directory: directory, fileSystem: fileSystem, keys: keys)
        p.retentionPolicy = try RetentionFile.read(directory: directory, fileSystem: fileSystem)
        p.resolveRetention()
        return p
    }

    /// Re-resolves the retention shape after the registry or the retention policy changed.
    mutating func resolveRetention() {
        retentionShape = RetentionShape.make(retentionPolicy, registry: cameraRegistry, fallback: fallbackRetention)
    }

    /// What retention keeps at `now` (nil: every row), given the rows that matched a hotlist.
    func retentionRule(now: Int64, hotlistHits: Set<RowKey>) -> RetentionRule? {
        RetentionRule(retentionShape, now: now, hits: hotlistHits, holds: holds)
    }
}
