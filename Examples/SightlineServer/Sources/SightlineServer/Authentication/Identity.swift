/// What a credential may do. Each `/v1` route needs one role; `/metrics` needs `admin`.
enum Role: String, CaseIterable, Sendable, Codable {
    /// Post sightings.
    case ingest
    /// Histories, areas, counts, heat maps.
    case read
    /// Search, intersect, convoy, frequent locations.
    case investigate
    /// The live alert stream.
    case alerts
    /// Hotlists, geofences, cameras, policies, retention, holds, purges, statistics, metrics.
    case admin
    /// The audit log and its verification.
    case audit

    /// `ROLE[,ROLE…]`, each a known role.
    static func parseList(_ text: String) throws(RoleError) -> Set<Role> {
        var roles = Set<Role>()
        for name in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let role = Role(rawValue: name.trimmedSpaces) else { throw RoleError(name: String(name)) }
            roles.insert(role)
        }
        return roles
    }

    /// The roles in a fixed order, comma-separated.
    static func text(_ roles: Set<Role>) -> String { allCases.filter(roles.contains).map(\.rawValue).joined(separator: ",") }
}

/// A role name that is not one.
struct RoleError: Error, CustomStringConvertible {
    let name: String
    var description: String { "unknown role \"\(name)\" (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))" }
}

/// Who a request comes from, as its credential says: the requester and agency every read is
/// audited and filtered under, and what it may do. Headers cannot change it.
struct Identity: Sendable, Hashable {
    var requester: String
    var agency: String
    var roles: Set<Role>
    /// Epoch ms after which the credential is refused; nil: never.
    var expires: Int64?

    /// The identity of `--insecure-no-auth`: every role, no agency.
    static let unauthenticated = Identity(requester: "unauthenticated", agency: "", roles: Set(Role.allCases), expires: nil)
}
