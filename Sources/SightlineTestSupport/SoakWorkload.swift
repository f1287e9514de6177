/// The chaos soak's data (`sightline-soak`, Scripts/soak.sh): batch n is a pure function of
/// (seed, origin, n), so the writer (killed and restarted at random) and the checker agree
/// on every row without passing rows between processes.
///
/// Rows are unique by (plate, time, camera) except for deliberate duplicates: row i of batch
/// n is at origin + (n × 200 + i) × 4 ms, and a late row a fixed 9.5, 10 or 10.5 minutes
/// before that plus 1, 2 or 3 ms — so no two generated rows share a time unless one copies
/// the other. About 8 % of a batch re-sends rows of the 20 batches before it (duplicates);
/// 20 % of new rows are late (around the soak's 10-minute retention cutoff on arrival).
import Sightline
import SightlineWorkload

public enum SoakWorkload {
    /// Distinct plates the soak draws from (so histories are long and purges hit rows).
    public static let plateCount = 600
    /// Plates on the soak's hotlist: every stored row of one raises an alert.
    public static let hotPlateCount = 12
    /// Data time one batch index advances (ms): the writer is paced to about real time.
    public static let batchMilliseconds: Int64 = 800
    /// The retention period the writer sets.
    public static let retention: Duration = .seconds(600)
    /// Lateness of a late row by kind 1, 2, 3 (ms): ≡ kind mod 4, so late rows never collide
    /// with on-time rows (≡ 0 mod 4) nor with each other.
    static let lateness: [Int64] = [0, 570_001, 600_002, 630_003]

    /// Plate number `k` (0 ..< plateCount).
    public static func plate(_ k: Int) -> Plate {
        let letters = Array("ABCDEFGHJKLMNPRSTUVWXYZ".utf8)
        var text: [UInt8] = Array("SK".utf8)
        var v = k
        for _ in 0..<3 { text.append(letters[v % letters.count]); v /= letters.count }
        text.append(UInt8(0x30 + k % 10))
        return try! Plate(String(decoding: text, as: UTF8.self))
    }

    /// The hotlisted plates.
    public static var hotPlates: [Plate] { (0..<hotPlateCount).map(plate) }

    /// The rows new in batch `n` (no duplicates): 5 to 120 of them.
    public static func newRows(_ n: Int, seed: UInt64, origin: Int64) -> [Sighting] {
        var g = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(n) &* 0xBF58_476D_1CE4_E5B9)
        let count = 5 + Int(g.next() % 116)
        var rows: [Sighting] = []
        rows.reserveCapacity(count)
        for i in 0..<count {
            // Plates skewed towards low numbers (a few vehicles seen often), hot plates among them.
            let u = g.unit()
            let k = Int(u * u * Double(plateCount))
            let late = g.next() % 5 == 0 ? 1 + Int(g.next() % 3) : 0
            let time = origin + (Int64(n) * 200 + Int64(i)) * 4 - lateness[late]
            rows.append(try! Sighting(plate: plate(k), time: time,
                                      latitude: 37.30 + g.unit() * 0.5, longitude: -122.50 + g.unit() * 0.6,
                                      camera: UInt32(g.next() % 150), confidence: UInt8(g.next() % 101),
                                      region: g.next() % 3 == 0 ? try! Region("CA") : nil))
        }
        return rows
    }

    /// Batch `n`: its new rows and copies of rows of the 20 batches before it.
    public static func batch(_ n: Int, seed: UInt64, origin: Int64) -> [Sighting] {
        var rows = newRows(n, seed: seed, origin: origin)
        var g = SplitMix64(seed: seed ^ 0xD1B5_4A32_D192_ED03 &* UInt64(n + 1))
        guard n > 0 else { return rows }
        let copies = rows.count / 12
        for _ in 0..<copies {
            let from = n - 1 - Int(g.next() % UInt64(min(n, 20)))
            let source = newRows(from, seed: seed, origin: origin)
            rows.insert(source[Int(g.next() % UInt64(source.count))], at: Int(g.next() % UInt64(rows.count + 1)))
        }
        return rows
    }

    /// The plate purged after batch `n`, if one is (every 23rd batch).
    public static func purge(after n: Int, seed: UInt64) -> Plate? {
        guard n % 23 == 11 else { return nil }
        var g = SplitMix64(seed: seed ^ UInt64(n) &* 0x94D0_49BB_1331_11EB)
        let u = g.unit()
        return plate(Int(u * u * Double(plateCount)))
    }

    /// Whether an explicit compaction follows batch `n` (besides the maintenance timer's).
    public static func compacts(after n: Int) -> Bool { n % 61 == 30 }
}
