#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `RuleSet` compiled for matching every appended row, in about the time of one hash probe:
///
/// - exact and equivalent entries share one open-addressing table keyed by the *folded*
///   plate (each character replaced by its OCR class's first): a read's folded plate finds
///   every entry it can match in one probe; an exact entry then also compares the plate;
/// - patterns are filed under one trigram (or bigram) every matching plate must contain
///   (with `^`/`$` marking the ends), so a read checks only the patterns filed under its own
///   few trigrams; patterns with neither are checked for every read;
/// - geofences are checked one by one behind a bounding-box test.
final class RuleMatcher: Sendable {
    /// What matched: an index into `entries` or into `geofences`.
    enum Rule: Hashable, Sendable { case entry(Int32), geofence(Int32) }

    let rules: RuleSet
    let entries: [HotlistEntry]
    let geofences: [Geofence]
    private let entryPlates: [Plate]
    /// Per entry, its expiry (Int64.max: never) and whether it is `equivalent`: the hot loop
    /// reads these, not the entries (whose strings would be retained and released per read).
    private let expiries: [Int64]
    private let isEquivalent: [Bool]
    private let patterns: [(entry: Int32, pattern: PlatePattern)]
    private let folded: FoldedPlateTable
    private let trigrams: PostingTable
    private let bigrams: PostingTable
    private let unfiled: [Int32]
    /// Geofences' bounding boxes in 1e-7 degrees (west > east: crosses the antimeridian).
    private let fenceBoxes: [(south: Int32, west: Int32, north: Int32, east: Int32)]

    var isEmpty: Bool { entries.isEmpty && geofences.isEmpty }

    init(_ rules: RuleSet) {
        self.rules = rules
        entries = rules.hotlist
        geofences = rules.allGeofences
        let equivalence = rules.equivalence
        var plates: [Plate] = []
        var keyed: [(key: Plate, entry: Int32)] = []
        var patterns: [(entry: Int32, pattern: PlatePattern)] = []
        for (i, e) in entries.enumerated() {
            switch e.mode {
            case .exact, .equivalent:
                let plate = try! Plate(e.plate)  // validated when the entry was made
                plates.append(plate)
                keyed.append((Self.fold(plate, equivalence), Int32(i)))
            case .pattern:
                plates.append(Plate(uncheckedLow: 0, high: 0, count: 1))
                patterns.append((Int32(i), try! PlatePattern(e.plate)))
            }
        }
        entryPlates = plates
        expiries = entries.map { $0.expires ?? .max }
        isEquivalent = entries.map { $0.mode == .equivalent }
        self.patterns = patterns
        folded = FoldedPlateTable(keyed)
        var tri: [(UInt32, Int32)] = [], bi: [(UInt32, Int32)] = [], none: [Int32] = []
        for (k, p) in patterns.enumerated() {
            if let t = Self.requiredGram(p.pattern, length: 3) { tri.append((t, Int32(k))) }
            else if let b = Self.requiredGram(p.pattern, length: 2) { bi.append((b, Int32(k))) }
            else { none.append(Int32(k)) }
        }
        trigrams = PostingTable(tri, keyBits: 18)
        bigrams = PostingTable(bi, keyBits: 12)
        unfiled = none
        fenceBoxes = geofences.map { Self.boundingBox($0.area) }
    }

    /// Calls `body` once for every rule the read matches at epoch millisecond `now`.
    @inline(__always)
    func forEachMatch(plate: Plate, time: Int64, latitudeE7: Int32, longitudeE7: Int32, camera: UInt32, now: Int64,
                      _ body: (Rule) -> Void) {
        if !entryPlates.isEmpty {
            folded.forEach(Self.fold(plate, rules.equivalence)) { i in
                guard now < expiries[Int(i)], isEquivalent[Int(i)] || entryPlates[Int(i)] == plate else { return }
                body(.entry(i))
            }
        }
        if !patterns.isEmpty { matchPatterns(plate, now: now, body) }
        for (k, box) in fenceBoxes.enumerated() {
            guard latitudeE7 >= box.south && latitudeE7 <= box.north,
                  box.west <= box.east ? (longitudeE7 >= box.west && longitudeE7 <= box.east) : (longitudeE7 >= box.west || longitudeE7 <= box.east),
                  geofences[k].matches(time: time, latitudeE7: latitudeE7, longitudeE7: longitudeE7, camera: camera) else { continue }
            body(.geofence(Int32(k)))
        }
    }

    private func matchPatterns(_ plate: Plate, now: Int64, _ body: (Rule) -> Void) {
        // The plate's codes with end marks: ^ c0 … cn-1 $.
        var codes: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let n = Int(plate.count) + 2
        withUnsafeMutableBytes(of: &codes) { raw in
            let c = raw.bindMemory(to: UInt32.self)
            c[0] = Self.startMark
            for i in 0..<Int(plate.count) { c[i + 1] = Self.code(plate[i]) }
            c[n - 1] = Self.endMark
        }
        // Element access, not a copy of the tuple: no retain of the pattern per candidate.
        func check(_ k: Int32) {
            let entry = patterns[Int(k)].entry
            if now < expiries[Int(entry)] && patterns[Int(k)].pattern.matches(plate) { body(.entry(entry)) }
        }
        withUnsafeBytes(of: &codes) { raw in
            let c = raw.bindMemory(to: UInt32.self)
            // A pattern is filed under one gram; a plate holding that gram twice would check
            // it twice: skip a gram seen earlier in the plate.
            if !trigrams.isEmpty {
                for i in 0..<(n - 2) {
                    let g = c[i] << 12 | c[i + 1] << 6 | c[i + 2]
                    guard trigrams.mayHold(g) else { continue }
                    var seen = false
                    for j in 0..<i where c[j] << 12 | c[j + 1] << 6 | c[j + 2] == g { seen = true; break }
                    if !seen { trigrams.forEach(g, check) }
                }
            }
            if !bigrams.isEmpty {
                for i in 0..<(n - 1) {
                    let g = c[i] << 6 | c[i + 1]
                    guard bigrams.mayHold(g) else { continue }
                    var seen = false
                    for j in 0..<i where c[j] << 6 | c[j + 1] == g { seen = true; break }
                    if !seen { bigrams.forEach(g, check) }
                }
            }
        }
        for k in unfiled { check(k) }
    }

    // MARK: Grams

    static let startMark: UInt32 = 1
    static let endMark: UInt32 = 2

    /// 6-bit code of a plate character: 3… for 0–9 and A–Z (0 unused, 1 and 2 the marks).
    @inline(__always)
    static func code(_ byte: UInt8) -> UInt32 {
        byte <= 0x39 ? UInt32(byte - 0x30) + 3 : UInt32(byte - 0x41) + 13
    }

    /// A gram of `length` fixed characters (or end marks) every plate matching `pattern`
    /// contains, or nil (any one serves: each is about as selective).
    static func requiredGram(_ pattern: PlatePattern, length: Int) -> UInt32? {
        // Segments between `*`; the first is anchored at the start unless the pattern starts
        // with `*`, the last at the end unless it ends with `*`. Within a segment, runs of
        // fixed characters (no `?`) are contiguous in every match.
        let bytes = Array(pattern.text.utf8)
        let segments = bytes.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false)
        for (k, segment) in segments.enumerated() {
            var run: [UInt32] = k == 0 ? [startMark] : []
            for b in segment {
                if b == UInt8(ascii: "?") {
                    if let g = gram(run, length) { return g }
                    run = []
                } else {
                    run.append(code(b))
                }
            }
            if k == segments.count - 1 { run.append(endMark) }
            if let g = gram(run, length) { return g }
        }
        return nil
    }

    private static func gram(_ run: [UInt32], _ length: Int) -> UInt32? {
        guard run.count >= length else { return nil }
        // The middle of the run: away from the marks when the run is long enough.
        let start = (run.count - length) / 2
        return run[start..<(start + length)].reduce(0) { $0 << 6 | $1 }
    }

    /// `plate` with each character replaced by its class's representative.
    @inline(__always)
    static func fold(_ plate: Plate, _ equivalence: OCREquivalence) -> Plate {
        var low: UInt64 = 0, high: UInt16 = 0
        for i in 0..<Int(plate.count) {
            let b = equivalence.representative(plate[i])
            if i < 8 { low |= UInt64(b) << (8 * UInt64(i)) } else { high |= UInt16(b) << (8 * UInt16(i - 8)) }
        }
        return Plate(uncheckedLow: low, high: high, count: plate.count)
    }

    static func boundingBox(_ area: Area) -> (south: Int32, west: Int32, north: Int32, east: Int32) {
        func e7(_ d: Double) -> Int32 { Int32((d * 1e7).rounded()) }
        switch area {
        case .box(let s, let w, let n, let e): return (e7(s) - 1, e7(w) - 1, e7(n) + 1, e7(e) + 1)
        case .circle(let lat, let lon, let metres):
            // Degrees of latitude are ~111.2 km; longitude widens by 1/cos(lat) (to the pole: all).
            let dLat = metres / 111_000 + 1e-6
            let cosine = cos(min(89.9, abs(lat) + dLat) * .pi / 180)
            let dLon = cosine > 0.01 ? metres / (111_000 * cosine) + 1e-6 : 360
            if dLon >= 180 { return (e7(max(-90, lat - dLat)), e7(-180), e7(min(90, lat + dLat)), e7(180)) }
            var w = lon - dLon, e = lon + dLon
            if w < -180 { w += 360 }
            if e > 180 { e -= 360 }
            return (e7(max(-90, lat - dLat)), e7(w), e7(min(90, lat + dLat)), e7(e))
        case .polygon(let ring):
            let lats = ring.map(\.latitude), lons = ring.map(\.longitude)
            return (e7(lats.min()!) - 1, e7(lons.min()!) - 1, e7(lats.max()!) + 1, e7(lons.max()!) + 1)
        }
    }
}

/// Open addressing over folded plates: slot → group of entry indexes. One cache line per
/// probe (a slot holds the key and its group's range).
struct FoldedPlateTable: Sendable {
    private struct Slot { var low: UInt64; var high: UInt16; var count: UInt8; var start: Int32; var end: Int32 }
    private let slots: [Slot]
    private let members: [Int32]
    private let mask: Int

    init(_ keyed: [(key: Plate, entry: Int32)]) {
        let sorted = keyed.sorted { $0.key < $1.key || ($0.key == $1.key && $0.entry < $1.entry) }
        var capacity = 16
        while capacity < sorted.count * 2 { capacity <<= 1 }
        var slots = [Slot](repeating: Slot(low: 0, high: 0, count: 0, start: 0, end: 0), count: capacity)
        var members: [Int32] = []
        members.reserveCapacity(sorted.count)
        var i = 0
        while i < sorted.count {
            let key = sorted[i].key
            let start = Int32(members.count)
            while i < sorted.count && sorted[i].key == key { members.append(sorted[i].entry); i += 1 }
            var s = Self.hash(key) & (capacity - 1)
            while slots[s].count != 0 { s = (s + 1) & (capacity - 1) }
            slots[s] = Slot(low: key.low, high: key.high, count: key.count, start: start, end: Int32(members.count))
        }
        self.slots = slots
        self.members = members
        mask = capacity - 1
    }

    /// Multiply-shift over the packed bytes (keys are short ASCII: no adversary to resist).
    @inline(__always)
    static func hash(_ p: Plate) -> Int {
        let h = (p.low ^ (UInt64(p.high) << 48 | UInt64(p.count) << 40)) &* 0x9E37_79B9_7F4A_7C15  // wraps: hashing
        return Int(truncatingIfNeeded: h >> 32)
    }

    @inline(__always)
    func forEach(_ key: Plate, _ body: (Int32) -> Void) {
        slots.withUnsafeBufferPointer { slots in
            var s = Self.hash(key) & mask
            while slots[s].count != 0 {
                let slot = slots[s]
                if slot.low == key.low && slot.high == key.high && slot.count == key.count {
                    for k in Int(slot.start)..<Int(slot.end) { body(members[k]) }
                    return
                }
                s = (s + 1) & mask
            }
        }
    }
}

/// Grams → pattern numbers, as a compressed table (one offset per possible gram), with a
/// bitmap of the grams that have any: most of a read's grams have none, and the bitmap (32 KiB
/// for trigrams) stays in cache where the offsets (1 MiB) would not.
struct PostingTable: Sendable {
    private let starts: [Int32]
    private let members: [Int32]
    private let present: [UInt64]
    var isEmpty: Bool { members.isEmpty }

    /// Whether any pattern is filed under `gram` (false: none is).
    @inline(__always)
    func mayHold(_ gram: UInt32) -> Bool {
        let g = Int(gram)
        return present.withUnsafeBufferPointer { bits in
            g >> 6 < bits.count && bits[g >> 6] & (1 << UInt64(g & 63)) != 0
        }
    }

    init(_ pairs: [(UInt32, Int32)], keyBits: Int) {
        guard !pairs.isEmpty else { starts = []; members = []; present = []; return }
        var present = [UInt64](repeating: 0, count: ((1 << keyBits) + 63) / 64)
        for (g, _) in pairs { present[Int(g) >> 6] |= 1 << UInt64(g & 63) }
        self.present = present
        var counts = [Int32](repeating: 0, count: (1 << keyBits) + 1)
        for (g, _) in pairs { counts[Int(g) + 1] += 1 }
        for i in 1..<counts.count { counts[i] += counts[i - 1] }
        var members = [Int32](repeating: 0, count: pairs.count)
        var next = counts
        for (g, k) in pairs { members[Int(next[Int(g)])] = k; next[Int(g)] += 1 }
        starts = counts
        self.members = members
    }

    @inline(__always)
    func forEach(_ gram: UInt32, _ body: (Int32) -> Void) {
        let g = Int(gram)
        guard g + 1 < starts.count else { return }
        for k in Int(starts[g])..<Int(starts[g + 1]) { body(members[k]) }
    }
}
