/// The canonical text of queries as the audit log records them: every parameter, plates
/// and patterns replaced by their keyed names (`AuditTrail.name`).
extension Query {
    func auditText(_ trail: AuditTrail) -> String {
        var parts: [String] = []
        switch kind {
        case .history(let plate): parts.append("history plate=\(trail.name(plate))")
        case .area(let area): parts.append("area \(area.auditText)")
        case .search(let pattern, let area):
            parts.append("search pattern=\(trail.name(text: pattern.text))\(pattern.equivalence == nil ? "" : " equivalent")")
            if let area { parts.append("within=\(area.auditText)") }
        }
        parts.append("time=\(time.auditText)")
        parts += filters.auditParts
        return parts.joined(separator: " ")
    }
}

extension TimeRange {
    /// `[from,to)` in RFC 3339, `-` for an open end.
    var auditText: String {
        "[\(from.map(Timestamp.rfc3339) ?? "-"),\(to.map(Timestamp.rfc3339) ?? "-"))"
    }
}

extension QueryFilters {
    var auditParts: [String] {
        var parts: [String] = []
        if let cameras { parts.append("cameras=" + cameras.sorted().map(String.init).joined(separator: ",")) }
        if let region { parts.append("region=\(region)") }
        if minimumConfidence > 0 { parts.append("min-confidence=\(minimumConfidence)") }
        if let limit { parts.append("limit=\(limit)") }
        return parts
    }
}

extension Area {
    /// `box(s,w,n,e)`, `circle(lat,lon,metres)`, `polygon(lat lon,…)`.
    var auditText: String {
        switch self {
        case .box(let s, let w, let n, let e): return "box(\(s),\(w),\(n),\(e))"
        case .circle(let lat, let lon, let m): return "circle(\(lat),\(lon),\(m))"
        case .polygon(let ring): return "polygon(" + ring.map { "\($0.latitude) \($0.longitude)" }.joined(separator: ",") + ")"
        }
    }
}
