import Testing
import Foundation
import Glibc
@testable import Sightline
@testable import SightlineWorkload

/// One-plate reads from another process ask a live owner for the plate's unflushed rows
/// (`ReadOnlyStore.snapshot(access:plate:)`) instead of decoding its whole write-ahead log.
/// Differential: against the owner's own snapshot and a full read-only catch-up, for every
/// plate, while the owner appends and flushes; and the view refuses any other query.
@Suite struct OwnerReadsTests {
    static func ownerOptions() -> StoreOptions {
        var o = storeOptions(bufferRows: 3_000)
        o.controlChannel = true
        o.segment = SegmentOptions(blockRows: 256, spatialBlockRows: 256, compression: .none)
        return o
    }

    static func history(_ snapshot: StoreSnapshot, _ plate: Plate) throws -> [Sighting] {
        try snapshot.run(Query(.history(plate))).rows
    }

    @Test func aPlatesHistoryFromTheOwnerEqualsTheWholeCatchUp() throws {
        let dir = temporaryDirectory("owner-reads")
        defer { removeTree(dir) }
        let owner = try Store(directory: dir, options: Self.ownerOptions())
        let batches = distinctBatches(30, rows: 400, seed: testSeed())
        let plates = Array(Set(batches.flatMap(\.plates))).sorted { $0.text < $1.text }
        // Some rows flushed, some frozen or buffered (a 3,000-row buffer freezes as it fills).
        for b in batches.prefix(20) { try owner.append(b) }
        try owner.flush()
        for b in batches.dropFirst(20) { try owner.append(b) }
        let reader = try ReadOnlyStore(directory: dir, options: storeOptions())
        #expect(owner.snapshot().memory.contains { !$0.isEmpty })
        for plate in plates {
            let scoped = try reader.snapshot(access: .unattributed, plate: plate)
            #expect(scoped.memoryScope == .plate(plate))  // answered by the owner, not by the logs
            let expected = try Self.history(owner.snapshot(), plate)
            #expect(try Self.history(scoped, plate) == expected, "\(plate)")
            #expect(try scoped.count(Query(.history(plate))).count == expected.count)
            #expect(try Self.history(reader.snapshot(), plate) == expected)
            // Its memory holds that plate only.
            #expect(scoped.memory.allSatisfy { $0.plates.allSatisfy { $0 == plate } })
        }
        // Anything but that plate's history is refused, not answered from partial rows.
        let one = try reader.snapshot(access: .unattributed, plate: plates[0])
        #expect(throws: SightlineError.self) { try one.run(Query(.history(plates[1]))) }
        #expect(throws: SightlineError.self) { try one.run(Query(.area(.box(south: -90, west: -180, north: 90, east: 180)))) }
        #expect(throws: SightlineError.self) { try one.convoy(plates[0], within: .seconds(60)) }
        #expect(throws: SightlineError.self) { try one.allSightings() }
        // Without a listening owner the reads catch up from the logs, as before.
        try owner.close()
        let alone = try ReadOnlyStore(directory: dir, options: storeOptions())
        let fallback = try alone.snapshot(access: .unattributed, plate: plates[3])
        #expect(fallback.memoryScope == nil)
        let reopened = try Store(directory: dir, options: storeOptions())
        #expect(try Self.history(fallback, plates[3]) == Self.history(reopened.snapshot(), plates[3]))
        try reopened.close()
    }

    /// Areas through the owner: for random boxes, circles and polygons whose covering box is
    /// asked for, the rows equal the owner's own answer; a query outside the box is refused.
    @Test func areasFromTheOwnerEqualTheWholeCatchUp() throws {
        let dir = temporaryDirectory("owner-areas")
        defer { removeTree(dir) }
        let owner = try Store(directory: dir, options: Self.ownerOptions())
        let batches = distinctBatches(24, rows: 400, seed: testSeed() &+ 2)
        for b in batches.prefix(12) { try owner.append(b) }
        try owner.flush()
        for b in batches.dropFirst(12) { try owner.append(b) }
        let reader = try ReadOnlyStore(directory: dir, options: storeOptions())
        let rows = batches.flatMap(\.sightings)
        var g = SplitMix64(seed: testSeed() &+ 3)
        for i in 0..<40 {
            // Around a stored row, so that areas hold rows both in segments and in memory.
            let center = rows[Int(g.next() % UInt64(rows.count))]
            let lat = min(88, max(-88, Double(center.latitudeE7) / 1e7)), lon = min(178, max(-178, Double(center.longitudeE7) / 1e7))
            let span = Double(g.next() % 1000 + 1) / 1000
            let area: Area = switch i % 3 {
            case 0: .box(south: max(-90, lat - span), west: max(-180, lon - span), north: min(90, lat + span), east: min(180, lon + span))
            case 1: .circle(latitude: lat, longitude: lon, metres: span * 50_000)
            default: try Area(parsingPolygon: "\(lat - span) \(lon - span);\(lat + span) \(lon);\(lat) \(lon + span)")
            }
            let boxes = area.coveringBoxes
            guard boxes.count == 1 else { continue }
            let scoped = try reader.snapshot(access: .unattributed, box: boxes[0])
            #expect(scoped.memoryScope == .box(boxes[0]))
            let expected = try owner.snapshot().run(Query(.area(area))).rows
            #expect(try scoped.run(Query(.area(area))).rows == expected, "\(area)")
            #expect(try scoped.count(Query(.area(area))).count == expected.count)
            #expect(try reader.snapshot().run(Query(.area(area))).rows == expected)
        }
        let box = GeoBox(minLatitudeE7: 0, minLongitudeE7: 0, maxLatitudeE7: 10_000_000, maxLongitudeE7: 10_000_000)
        let scoped = try reader.snapshot(access: .unattributed, box: box)
        #expect(throws: SightlineError.self) { try scoped.run(Query(.area(.box(south: 0, west: 0, north: 2, east: 2)))) }
        #expect(throws: SightlineError.self) { try scoped.run(Query(.history(rows[0].plate))) }
        #expect(try scoped.run(Query(.area(.box(south: 0.1, west: 0.1, north: 0.9, east: 0.9)))).rows
                == owner.snapshot().run(Query(.area(.box(south: 0.1, west: 0.1, north: 0.9, east: 0.9)))).rows)
        #expect(try ControlWire.decodeRequest(ControlWire.encode(.memoryArea(box, generation: 7))) == .memoryArea(box, generation: 7))
        try owner.close()
    }

    /// Reads racing appends, freezes, flushes and a compaction: each answer is the plate's
    /// rows of some moment — a prefix of what was appended, in order — never a row twice or
    /// a hole before an acknowledged row.
    @Test func readsDuringAppendsFlushesAndCompactionsSeeEachRowOnce() throws {
        let dir = temporaryDirectory("owner-reads-race")
        defer { removeTree(dir) }
        let owner = try Store(directory: dir, options: Self.ownerOptions())
        let batches = distinctBatches(60, rows: 300, seed: testSeed() &+ 1)
        let plate = batches[0].plates[0]
        let all = batches.flatMap { b in b.sightings.filter { $0.plate == plate } }
        let reader = try ReadOnlyStore(directory: dir, options: storeOptions())
        let done = Locked(false), acknowledged = Locked(0)
        let writer = Thread {
            for (i, b) in batches.enumerated() {
                _ = try? owner.append(b)
                acknowledged.withLock { $0 = i + 1 }
                if i % 17 == 16 { _ = try? owner.compact(CompactionOptions(partitioning: .day, targetRows: 100_000)) }
            }
            done.withLock { $0 = true }
        }
        writer.start()
        var reads = 0
        while !done.withLock({ $0 }) || reads < 5 {
            let before = acknowledged.withLock { $0 }
            let seen = try Self.history(reader.snapshot(access: .unattributed, plate: plate), plate)
            let keys = seen.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) }
            #expect(Set(keys).count == keys.count, "a row twice")
            // Every row seen was appended, and the rows seen are those of a prefix of the batches.
            let appended = Set(all.map { RowKey(plate: $0.plate, time: $0.time, camera: $0.camera) })
            #expect(keys.allSatisfy(appended.contains))
            // Every row acknowledged before the read began is in it.
            let owed = batches.prefix(before).flatMap { b in b.sightings.filter { $0.plate == plate } }
            let seenKeys = Set(keys)
            #expect(owed.allSatisfy { seenKeys.contains(RowKey(plate: $0.plate, time: $0.time, camera: $0.camera)) }, "a hole")
            reads += 1
        }
        let final = try Self.history(reader.snapshot(access: .unattributed, plate: plate), plate)
        #expect(final == (try Self.history(owner.snapshot(), plate)) && final.count == all.count)
        try owner.close()
    }
}
