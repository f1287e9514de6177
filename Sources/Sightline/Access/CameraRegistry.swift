/// The cameras a store knows and who owns them: each sighting belongs to its camera's
/// agency (and that agency's jurisdiction), the owner the sharing policy and per-owner
/// retention speak of. Rows from cameras not registered belong to `defaultOwner`. Kept in
/// the store (`CAMERAS`; Docs/format.md), loaded from CSV (`sightline cameras STORE load`).
public struct CameraRegistry: Sendable, Hashable {
    /// The registered cameras by id.
    public var cameras: [UInt32: RegisteredCamera] = [:]
    /// The owner of rows from unregistered cameras (nil: nobody — only the policy's
    /// default decides who reads them).
    public var defaultOwner: Owner?

    /// An owning agency and its jurisdiction (e.g. a state: `CA`; `federal`).
    public struct Owner: Sendable, Hashable {
        /// The agency's name, as requesters name theirs (`AccessContext.agency`).
        public var agency: String
        /// Its jurisdiction, or empty for none.
        public var jurisdiction: String
        /// An owner.
        public init(agency: String, jurisdiction: String) {
            self.agency = agency
            self.jurisdiction = jurisdiction
        }
    }

    /// No cameras.
    public init(cameras: [RegisteredCamera] = [], defaultOwner: Owner? = nil) {
        for c in cameras { self.cameras[c.camera] = c }
        self.defaultOwner = defaultOwner
    }

    /// The owner of `camera`'s rows.
    public func owner(of camera: UInt32) -> Owner? {
        cameras[camera].map { Owner(agency: $0.agency, jurisdiction: $0.jurisdiction) } ?? defaultOwner
    }

    /// The jurisdiction of `agency`: that of the cameras it owns (nil for an agency that
    /// owns none, or the default owner's when it is that agency).
    public func jurisdiction(ofAgency agency: String) -> String? {
        if let c = cameras.values.first(where: { $0.agency == agency && !$0.jurisdiction.isEmpty }) { return c.jurisdiction }
        if let d = defaultOwner, d.agency == agency, !d.jurisdiction.isEmpty { return d.jurisdiction }
        return nil
    }

    /// The cameras ordered by id.
    public var sorted: [RegisteredCamera] { cameras.values.sorted { $0.camera < $1.camera } }
}

/// One camera of the registry.
public struct RegisteredCamera: Sendable, Hashable {
    /// The camera id rows carry.
    public var camera: UInt32
    /// The owning agency.
    public var agency: String
    /// The agency's jurisdiction (`CA`, `NH`, `federal`, …).
    public var jurisdiction: String
    /// What it is (fixed, mobile, gantry, …), its position and name: descriptive only.
    public var kind: String, latitude: Double?, longitude: Double?, name: String

    /// A camera.
    public init(camera: UInt32, agency: String, jurisdiction: String, kind: String = "", latitude: Double? = nil,
                longitude: Double? = nil, name: String = "") {
        self.camera = camera
        self.agency = agency
        self.jurisdiction = jurisdiction
        self.kind = kind
        self.latitude = latitude
        self.longitude = longitude
        self.name = name
    }
}

/// Which agencies may read which owners' rows (`POLICY`; `sightline policy STORE set FILE`).
/// For a row, the rules whose `owner` names the row's agency apply if there are any, else
/// those naming `jurisdiction:` its jurisdiction; the requester reads the row when its
/// agency or `jurisdiction:` its jurisdiction is in some applicable rule's `allow` and in no
/// applicable rule's `deny`; with no applicable rule, `defaultAllows` decides. An owner
/// always reads its own rows.
public struct SharingPolicy: Sendable, Hashable {
    /// What happens to rows no rule speaks of.
    public var defaultAllows: Bool
    /// The rules, in file order.
    public var rules: [SharingRule]

    /// A policy.
    public init(defaultAllows: Bool = true, rules: [SharingRule] = []) {
        self.defaultAllows = defaultAllows
        self.rules = rules
    }

    /// No policy: everyone reads everything.
    public static let open = SharingPolicy()

    /// Whether a requester of `agency` (in `jurisdiction`) may read rows owned by `owner`.
    public func allows(agency: String, jurisdiction: String?, toRead owner: CameraRegistry.Owner?) -> Bool {
        if let owner, !agency.isEmpty, owner.agency == agency { return true }
        var applicable: [SharingRule] = []
        if let owner {
            applicable = rules.filter { $0.owner == owner.agency }
            if applicable.isEmpty, !owner.jurisdiction.isEmpty { applicable = rules.filter { $0.owner == "jurisdiction:" + owner.jurisdiction } }
        }
        guard !applicable.isEmpty else { return defaultAllows }
        var names = [agency]
        if let jurisdiction, !jurisdiction.isEmpty { names.append("jurisdiction:" + jurisdiction) }
        names.removeAll { $0.isEmpty }
        let allowed = applicable.contains { r in names.contains { r.allow.contains($0) } }
        let denied = applicable.contains { r in names.contains { r.deny.contains($0) } }
        return allowed && !denied
    }

    /// What a requester of `agency` may see of a store with `registry`: nil when it sees
    /// every row (no filter to apply).
    public func visibility(for agency: String, registry: CameraRegistry) -> CameraVisibility? {
        let jurisdiction = registry.jurisdiction(ofAgency: agency)
        var hidden: [UInt32] = []
        for c in registry.cameras.values where !allows(agency: agency, jurisdiction: jurisdiction, toRead: registry.owner(of: c.camera)) {
            hidden.append(c.camera)
        }
        let unregisteredVisible = allows(agency: agency, jurisdiction: jurisdiction, toRead: registry.defaultOwner)
        guard !hidden.isEmpty || !unregisteredVisible else { return nil }
        return CameraVisibility(registered: registry.cameras.keys.sorted(), hidden: hidden.sorted(), unregisteredVisible: unregisteredVisible)
    }
}

/// One rule of a sharing policy.
public struct SharingRule: Sendable, Hashable {
    /// The owning agency, or `jurisdiction:XX`.
    public var owner: String
    /// Requesting agencies or `jurisdiction:XX` that may read its rows.
    public var allow: [String]
    /// Requesting agencies or `jurisdiction:XX` that may not, whatever `allow` says.
    public var deny: [String]

    /// A rule.
    public init(owner: String, allow: [String] = [], deny: [String] = []) {
        self.owner = owner
        self.allow = allow
        self.deny = deny
    }
}

/// The cameras whose rows one requester may not read: applied to every row a query
/// examines (counts and heat maps included), so hidden rows are never materialized.
public struct CameraVisibility: Sendable, Hashable {
    /// Registered cameras, ascending.
    let registered: [UInt32]
    /// Registered cameras whose rows are hidden, ascending.
    let hidden: [UInt32]
    /// Whether rows of unregistered cameras are visible.
    let unregisteredVisible: Bool
    /// One bit per camera id below `bitmapLimit`: visible or not (a bit test per row where a
    /// binary search over thousands of cameras cost ~11 compares). Ids at or above the
    /// limit (rare: ids are small in practice) take the sorted lists.
    private let visibleBits: [UInt64]
    static let bitmapLimit: UInt32 = 1 << 22  // 512 KiB at most

    init(registered: [UInt32], hidden: [UInt32], unregisteredVisible: Bool) {
        self.registered = registered
        self.hidden = hidden
        self.unregisteredVisible = unregisteredVisible
        // Ids from `top` up to the limit are above every registered one: unregistered.
        let top = registered.last.map { $0 >= Self.bitmapLimit ? Self.bitmapLimit : $0 + 1 } ?? 0
        var bits = [UInt64](repeating: unregisteredVisible ? ~0 : 0, count: Int((top + 63) / 64))
        for c in registered where c < top {
            let visible = !Self.contains(hidden, c)
            if visible { bits[Int(c >> 6)] |= 1 << UInt64(c & 63) } else { bits[Int(c >> 6)] &= ~(1 << UInt64(c & 63)) }
        }
        visibleBits = bits
    }

    /// Whether rows of `camera` are visible.
    @inline(__always)
    public func allows(_ camera: UInt32) -> Bool {
        let word = Int(camera >> 6)
        if word < visibleBits.count { return visibleBits[word] & (1 << UInt64(camera & 63)) != 0 }
        if camera < Self.bitmapLimit { return unregisteredVisible }  // above every registered id
        if Self.contains(hidden, camera) { return false }
        return unregisteredVisible || Self.contains(registered, camera)
    }

    @inline(__always)
    static func contains(_ sorted: [UInt32], _ value: UInt32) -> Bool {
        let i = sorted.partitionPoint { $0 < value }
        return i < sorted.count && sorted[i] == value
    }
}
