/// The owner's policy: the current ``StorePolicy`` under its own lock, and the one place that
/// changes it — each change written durably to its file (replaced atomically) before it is in
/// force. `Store` validates, audits and orders changes against rewrites; this part owns the
/// state, so reading the policy never waits on the write path's lock.
///
/// Lock order: `Store.state` may be held while this lock is taken (a snapshot reads both);
/// never the other way round.
final class PolicyBook: Sendable {
    private struct State {
        var policy: StorePolicy
        /// Each requesting agency's visibility under the registry and the sharing policy
        /// (cleared when either changes).
        var visibilities: [String: CameraVisibility?] = [:]
    }

    private let directory: String
    private let fileSystem: any FileSystem
    private let state: Locked<State>
    /// Seal `HOLDS` (nil: the store keeps it in clear).
    private let keys: DataKeys?

    /// The policy the files in `directory` state now; `keys` open and seal `HOLDS`.
    init(directory: String, fileSystem: any FileSystem, fallbackRetention: Duration?, keys: DataKeys?) throws(SightlineError) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.keys = keys
        state = Locked(State(policy: try StorePolicy.load(directory: directory, fileSystem: fileSystem,
                                                          fallbackRetention: fallbackRetention, keys: keys)))
    }

    /// The policy in force.
    var current: StorePolicy { state.withLock { $0.policy } }

    /// What a read for `agency` must state, and which cameras' rows it may see.
    func access(for agency: String) -> (AccessRequirement, CameraVisibility?) {
        state.withLock { s in
            if let known = s.visibilities[agency] { return (s.policy.accessRequirement, known) }
            let v = s.policy.sharingPolicy.visibility(for: agency, registry: s.policy.cameraRegistry)
            s.visibilities[agency] = v
            return (s.policy.accessRequirement, v)
        }
    }

    func setAccessRequirement(_ requirement: AccessRequirement) throws(SightlineError) {
        try state.withLock { (s: inout State) throws(SightlineError) in
            try AccessFile.write(requirement, directory: directory, fileSystem: fileSystem)
            s.policy.accessRequirement = requirement
        }
    }

    func setCameraRegistry(_ registry: CameraRegistry) throws(SightlineError) {
        try state.withLock { (s: inout State) throws(SightlineError) in
            try fileSystem.replaceAtomically("\(directory)/\(CamerasFile.fileName)", with: CamerasFile.encode(registry))
            s.policy.cameraRegistry = registry
            s.policy.resolveRetention()
            s.visibilities = [:]
        }
    }

    func setSharingPolicy(_ policy: SharingPolicy) throws(SightlineError) {
        try state.withLock { (s: inout State) throws(SightlineError) in
            try fileSystem.replaceAtomically("\(directory)/\(PolicyFile.fileName)", with: PolicyFile.encode(policy))
            s.policy.sharingPolicy = policy
            s.visibilities = [:]
        }
    }

    func setRetentionPolicy(_ policy: RetentionPolicy) throws(SightlineError) {
        try state.withLock { (s: inout State) throws(SightlineError) in
            try fileSystem.replaceAtomically("\(directory)/\(RetentionFile.fileName)", with: RetentionFile.encode(policy))
            s.policy.retentionPolicy = policy
            s.policy.resolveRetention()
        }
    }

    func setInvestigationLimits(_ limits: InvestigationLimits) throws(SightlineError) {
        try state.withLock { (s: inout State) throws(SightlineError) in
            try GuardrailsFile.write(limits, directory: directory, fileSystem: fileSystem)
            s.policy.investigationLimits = limits
        }
    }

    func placeHold(_ hold: LegalHold) throws(SightlineError) {
        try state.withLock { (s: inout State) throws(SightlineError) in
            try fileSystem.replaceAtomically("\(directory)/\(HoldsFile.fileName)", with: HoldsFile.encode(s.policy.holds + [hold]), sealedBy: keys)
            s.policy.holds.append(hold)
        }
    }

    /// Releases the hold with this id, or every hold of this case number; the holds released.
    func releaseHolds(_ idOrCase: String) throws(SightlineError) -> [LegalHold] {
        try state.withLock { (s: inout State) throws(SightlineError) -> [LegalHold] in
            let gone = s.policy.holds.filter { $0.id == idOrCase || $0.caseNumber == idOrCase }
            guard !gone.isEmpty else { return [] }
            let kept = s.policy.holds.filter { $0.id != idOrCase && $0.caseNumber != idOrCase }
            try fileSystem.replaceAtomically("\(directory)/\(HoldsFile.fileName)", with: HoldsFile.encode(kept), sealedBy: keys)
            s.policy.holds = kept
            return gone
        }
    }
}
