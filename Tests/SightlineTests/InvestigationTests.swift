import Testing
@_spi(Benchmarks) @testable import Sightline
@testable import SightlineWorkload

/// Investigative queries against their brute-force definitions (issue 11), on random stores
/// with several segments, rows in memory and a purged plate.
@Suite struct InvestigationTests {
    static func store(_ dir: String, seed: UInt64) throws -> (Store, [Sighting]) {
        let (store, _) = try QueryTests.randomStore(dir, seed: seed)
        // A purged plate is never returned by any of them.
        let victim = try store.snapshot().allSightings()[7].plate
        try store.purge(victim)
        return (store, try store.snapshot().allSightings())
    }

    /// The brute-force glob over plate text, with OCR classes.
    static func globMatches(_ pattern: [Character], _ plate: [Character], classes: OCREquivalence?) -> Bool {
        func same(_ p: Character, _ c: Character) -> Bool {
            guard let e = classes else { return p == c }
            return e.representative(p.asciiValue!) == e.representative(c.asciiValue!)
        }
        func go(_ i: Int, _ j: Int) -> Bool {
            if i == pattern.count { return j == plate.count }
            if pattern[i] == "*" { return (j...plate.count).contains { go(i + 1, $0) } }
            guard j < plate.count, pattern[i] == "?" || same(pattern[i], plate[j]) else { return false }
            return go(i + 1, j + 1)
        }
        return go(0, 0)
    }

    /// A pattern made from a stored plate: characters kept, replaced by `?`, runs replaced
    /// by `*`, letters swapped for OCR look-alikes.
    static func randomPattern(_ g: inout SplitMix64, from plate: Plate) -> String {
        let lookalike: [Character: Character] = ["0": "O", "O": "D", "1": "I", "I": "L", "8": "B", "B": "8", "5": "S", "S": "5", "2": "Z", "6": "G"]
        var out = ""
        var chars = Array(plate.text)
        if g.next() % 4 == 0 { chars.insert("*", at: 0) }
        if g.next() % 4 == 0 { chars.append("*") }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch g.next() % 6 {
            case 0 where c != "*": out.append("?")
            case 1 where c != "*": out.append("*"); i += Int(g.next() % 2)
            case 2 where c != "*": out.append(lookalike[c] ?? c)
            default: out.append(c)
            }
            i += 1
        }
        return g.next() % 5 == 0 ? out.lowercased() : out
    }

    @Test func searchMatchesTheBruteForcePatternDefinition() throws {
        let dir = temporaryDirectory("search")
        defer { removeTree(dir) }
        let seed = testSeed()
        let (store, rows) = try Self.store(dir, seed: seed)
        let snapshot = store.snapshot()
        var g = SplitMix64(seed: seed &+ 3)
        var nonEmpty = 0
        for trial in 0..<200 {
            let text = Self.randomPattern(&g, from: rows[Int(g.next() % UInt64(rows.count))].plate)
            let equivalent = g.next() % 2 == 0
            guard let pattern = try? PlatePattern(text, equivalence: equivalent ? .default : nil) else { continue }
            let area: Area? = g.next() % 3 == 0 ? QueryTests.randomArea(&g, around: rows) : nil
            var time = TimeRange.all
            if g.next() % 2 == 0 { time = TimeRange(uncheckedFrom: rows[Int(g.next() % UInt64(rows.count))].time, to: nil) }
            let query = try Query(.search(pattern, within: area), time: time)
            let want = try bruteForce(snapshot, query)
            // The brute-force definition of the pattern itself, independent of PlatePattern.
            let normalized = Array(text.uppercased().filter { $0 != " " && $0 != "-" })
            let byDefinition = try snapshot.allSightings().filter {
                Self.globMatches(normalized, Array($0.plate.text), classes: equivalent ? .default : nil)
                    && query.time.contains($0.time) && (area?.contains(latitudeE7: $0.latitudeE7, longitudeE7: $0.longitudeE7) ?? true)
            }
            #expect(Set(want.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) })
                    == Set(byDefinition.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) }), "trial \(trial): \(text)")
            #expect(try snapshot.run(query).rows == want, "trial \(trial) (SIGHTLINE_TEST_SEED=\(seed)): \(text) \(equivalent)")
            var collected: [Sighting] = []
            let cursor = try snapshot.cursor(query, options: CursorOptions(batchRows: 13))
            while let b = try cursor.next() { collected += b }
            #expect(collected == want)
            // --plates: per plate, sightings, first, last; by sightings descending, then plate.
            var summary: [Plate: PlateSummary] = [:]
            for s in want { summary[s.plate, default: PlateSummary(plate: s.plate, sightings: 0, first: s.time, last: s.time)].add(s.time) }
            let expected = summary.values.sorted { $0.sightings != $1.sightings ? $0.sightings > $1.sightings : $0.plate < $1.plate }
            #expect(try snapshot.searchPlates(query) == expected, "trial \(trial)")
            if !want.isEmpty { nonEmpty += 1 }
        }
        #expect(nonEmpty > 50)
    }

    @Test func patternsAreParsedAndBadOnesRejected() throws {
        for (text, plate, equivalent, matches) in [("AB*", "ABC123", false, true), ("*123", "ABC123", false, true), ("A?C*3", "ABC123", false, true),
                                                   ("*", "Z", false, true), ("a b-c", "ABC", false, true), ("8OO", "B00", true, true),
                                                   ("8OO", "B00", false, false), ("ABC", "ABCD", false, false), ("??", "A", false, false),
                                                   ("Q1Z5", "0I25", true, true), ("*A*A*", "BANANA", false, true), ("*A*A*A*A*", "BANANA", false, false)] {
            #expect(try PlatePattern(text, equivalence: equivalent ? .default : nil).matches(Plate(plate)) == matches, "\(text) ~ \(plate)")
        }
        #expect(try PlatePattern("AB*1?").knownCharacters == 3)
        for bad in ["", " - ", "AB#", "ÄB", "ABCDEFGHIJK"] {
            #expect(throws: SightlineError.self, "\(bad)") { try PlatePattern(bad) }
        }
        #expect(throws: SightlineError.invalidArgument("OCR classes: O is in two classes")) { try OCREquivalence(classes: ["0O", "OQ"]) }
    }

    @Test func intersectionMatchesTheBruteForceDefinition() throws {
        let dir = temporaryDirectory("intersect")
        defer { removeTree(dir) }
        let seed = testSeed()
        let (store, rows) = try Self.store(dir, seed: seed)
        let snapshot = store.snapshot()
        var g = SplitMix64(seed: seed &+ 4)
        var nonEmpty = 0
        for trial in 0..<120 {
            let windows = try (0..<(1 + Int(g.next() % 3))).map { _ -> IntersectionWindow in
                let area: Area = g.next() % 4 == 0 ? .box(south: -60, west: 170, north: 60, east: -170)  // across the antimeridian
                    : QueryTests.randomArea(&g, around: rows)
                let a = rows[Int(g.next() % UInt64(rows.count))].time, b = rows[Int(g.next() % UInt64(rows.count))].time
                let time = g.next() % 3 == 0 ? TimeRange.all : TimeRange(uncheckedFrom: min(a, b), to: max(a, b) == min(a, b) ? nil : max(a, b))
                return try IntersectionWindow(area: area, time: time)
            }
            let minimum = g.next() % 2 == 0 ? nil : 1 + Int(g.next() % UInt64(windows.count))
            var perPlate: [Plate: (Int, Int)] = [:]
            for w in windows {
                var inside: [Plate: Int] = [:]
                for s in rows where w.time.contains(s.time) && w.area.contains(latitudeE7: s.latitudeE7, longitudeE7: s.longitudeE7) {
                    inside[s.plate, default: 0] += 1
                }
                for (p, n) in inside { perPlate[p, default: (0, 0)].0 += 1; perPlate[p]!.1 += n }
            }
            let k = minimum ?? windows.count
            let want = perPlate.filter { $0.value.0 >= k }.map { IntersectionMatch(plate: $0.key, windows: $0.value.0, sightings: $0.value.1) }
                .sorted { $0.windows != $1.windows ? $0.windows > $1.windows : $0.plate < $1.plate }
            #expect(try snapshot.intersect(windows, minimum: minimum) == want, "trial \(trial) (SIGHTLINE_TEST_SEED=\(seed))")
            let bound = try snapshot.explainIntersect(windows, minimum: minimum).exposureBound
            #expect(want.count <= bound.plates && want.reduce(0) { $0 + $1.sightings } <= bound.sightings)
            if !want.isEmpty { nonEmpty += 1 }
        }
        #expect(nonEmpty > 30)
        #expect(throws: SightlineError.invalidArgument("intersect needs at least one window")) { try snapshot.intersect([]) }
        let w = try IntersectionWindow(area: .box(south: 0, west: 0, north: 1, east: 1), time: .all)
        #expect(throws: SightlineError.invalidArgument("--min 3 is outside 1…2")) { try snapshot.intersect([w, w], minimum: 3) }
    }

    @Test func convoyMatchesTheBruteForceDefinition() throws {
        let dir = temporaryDirectory("convoy")
        defer { removeTree(dir) }
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let store = try Store(directory: dir, options: storeOptions(bufferRows: 400))
        // Few cameras and ten-minute bursts some hours apart, so companions exist and the
        // camera index's minute clusters prune blocks; equal times included.
        var batch = SightingBatch()
        let plates = try (0..<25).map { try Plate("CV\($0)") }
        for _ in 0..<1500 {
            let t: Int64 = 1_700_000_000_000 + Int64(g.next() % 6) * 3_600_000 + Int64(g.next() % 600) * 1000
            batch.append(try Sighting(plate: plates[Int(g.next() % 25)], time: t, latitudeE7: 0, longitudeE7: 0,
                                      camera: UInt32(g.next() % 6), confidence: 80))
        }
        for start in stride(from: 0, to: batch.count, by: 300) { try store.append(batch.slice(start..<min(batch.count, start + 300))) }
        let snapshot = store.snapshot()
        let rows = try snapshot.allSightings()
        for trial in 0..<40 {
            let target = plates[Int(g.next() % 25)]
            let within = Int64(g.next() % 90) * 1000
            let minimum = 1 + Int(g.next() % 3)
            let mine = rows.filter { $0.plate == target }
            var perPlate: [Plate: (Set<UInt32>, Set<RowKey>)] = [:]
            for s in mine {
                for r in rows where r.camera == s.camera && abs(r.time - s.time) <= within && r.plate != target {
                    perPlate[r.plate, default: ([], [])].0.insert(r.camera)
                    perPlate[r.plate]!.1.insert(RowKey(plate: r.plate, time: r.time, camera: r.camera))
                }
            }
            let want = perPlate.filter { $0.value.0.count >= minimum }
                .map { Companion(plate: $0.key, cameras: $0.value.0.count, sightings: $0.value.1.count) }
                .sorted { ($0.cameras, $0.sightings) != ($1.cameras, $1.sightings) ? ($0.cameras, $0.sightings) > ($1.cameras, $1.sightings) : $0.plate < $1.plate }
            let got = try snapshot.convoy(target, within: .milliseconds(within), minimumCameras: minimum)
            #expect(got == want, "trial \(trial) (SIGHTLINE_TEST_SEED=\(seed)): \(got.prefix(3)) vs \(want.prefix(3))")
            // explain's bound, known before running, holds the answer.
            let bound = try snapshot.explainConvoy(target, within: .milliseconds(within)).exposureBound
            #expect(got.count <= bound.plates && got.reduce(0) { $0 + $1.sightings } <= bound.sightings)
        }
        #expect(throws: SightlineError.invalidArgument("--min-cameras must be at least 1")) {
            try snapshot.convoy(plates[0], within: .seconds(1), minimumCameras: 0)
        }
    }

    @Test func frequentLocationsMatchTheBruteForceDefinition() throws {
        let dir = temporaryDirectory("frequent")
        defer { removeTree(dir) }
        let seed = testSeed()
        let (store, rows) = try Self.store(dir, seed: seed)
        let snapshot = store.snapshot()
        var g = SplitMix64(seed: seed &+ 5)
        for trial in 0..<80 {
            let plate = rows[Int(g.next() % UInt64(rows.count))].plate
            let precision = 1 + Int(g.next() % 8)
            let top = 1 + Int(g.next() % 5)
            let hours: (from: Int, to: Int)? = g.next() % 2 == 0 ? nil : (Int(g.next() % 24), 1 + Int(g.next() % 24))
            if let h = hours, h.from == h.to { continue }
            var cells: [String: FrequentLocation] = [:]
            for s in rows where s.plate == plate {
                if let h = hours {
                    let hour = StoreSnapshot.hourOfDay(s.time)
                    guard h.from < h.to ? (h.from..<h.to).contains(hour) : (hour >= h.from || hour < h.to) else { continue }
                }
                let cell = try Geohash(latitudeE7: s.latitudeE7, longitudeE7: s.longitudeE7, precision: precision).description
                cells[cell, default: FrequentLocation(cell: cell, sightings: 0, first: s.time, last: s.time)].add(s.time)
            }
            let want = Array(cells.values.sorted { $0.sightings != $1.sightings ? $0.sightings > $1.sightings : $0.cell < $1.cell }.prefix(top))
            #expect(try snapshot.frequentLocations(plate, precision: precision, top: top, hours: hours) == want, "trial \(trial) (SIGHTLINE_TEST_SEED=\(seed))")
        }
        #expect(throws: SightlineError.invalidArgument("precision must be 1…12, got 0")) { try snapshot.frequentLocations(rows[0].plate, precision: 0) }
    }
}
