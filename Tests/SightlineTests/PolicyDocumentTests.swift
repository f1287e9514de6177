import Foundation
import Testing
@testable import Sightline
@testable import SightlineWorkload

/// The policy files as library types: what the CLI's `policy set`, `retention set` and
/// `cameras load` and any service read, with errors naming the file and the bad value.
@Suite struct PolicyDocumentTests {
    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws(SightlineError) -> T {
        try PolicyDocument.decode(type, from: Array(json.utf8), source: "p.json")
    }

    func failure<T: Decodable>(_ type: T.Type, _ json: String) -> String {
        do { _ = try decode(type, json); return "accepted" } catch { return "\(error)" }
    }

    /// Random policies written and read back are the same policies.
    @Test func policiesRoundTrip() throws {
        let seed = testSeed()
        var g = SplitMix64(seed: seed)
        let periods: [Duration?] = [nil, .milliseconds(1), .seconds(45), .seconds(90 * 86_400), .seconds(2 * 365 * 86_400), .milliseconds(1234)]
        for _ in 0..<200 {
            var sharing = SharingPolicy(defaultAllows: g.next() % 2 == 0)
            var retention = RetentionPolicy(defaultPeriod: periods[Int(g.next() % 6)], defaultHits: periods[Int(g.next() % 6)])
            for i in 0..<Int(g.next() % 4) {
                sharing.rules.append(SharingRule(owner: "agency \(i)", allow: (0..<Int(g.next() % 3)).map { "A\($0)" }, deny: g.next() % 2 == 0 ? [] : ["jurisdiction:CA"]))
                retention.rules.append(RetentionPolicy.Rule(owner: "jurisdiction:X\(i)", keep: periods[Int(g.next() % 6)], hits: periods[Int(g.next() % 6)]))
            }
            let s = String(decoding: try JSONEncoder().encode(sharing), as: UTF8.self)
            let r = String(decoding: try JSONEncoder().encode(retention), as: UTF8.self)
            #expect(try decode(SharingPolicy.self, s) == sharing, "seed \(seed): \(s)")
            #expect(try decode(RetentionPolicy.self, r) == retention, "seed \(seed): \(r)")
        }
    }

    /// The shapes operators write, defaults included, and one period grammar.
    @Test func theWrittenShapesRead() throws {
        let sharing = try decode(SharingPolicy.self, #"{"default": "deny", "rules": [{"owner": "jurisdiction:CA", "allow": ["jurisdiction:CA"]}]}"#)
        #expect(!sharing.defaultAllows && sharing.rules == [SharingRule(owner: "jurisdiction:CA", allow: ["jurisdiction:CA"])])
        #expect(try decode(SharingPolicy.self, "{}") == SharingPolicy())
        let retention = try decode(RetentionPolicy.self, #"{"default": "2y", "hits": null, "rules": [{"owner": "SFPD", "keep": "18mo", "hits": "forever"}, {"owner": "X", "keep": 60000}]}"#)
        #expect(retention.defaultPeriod == .seconds(2 * 365 * 86_400) && retention.defaultHits == nil)
        #expect(retention.rules == [RetentionPolicy.Rule(owner: "SFPD", keep: .seconds(18 * 30 * 86_400), hits: nil),
                                    RetentionPolicy.Rule(owner: "X", keep: .seconds(60))])
    }

    /// Each bad value is named by its JSON path.
    @Test func errorsNameTheFileAndTheJSONPath() {
        let cases: [(String, String)] = [
            (failure(SharingPolicy.self, #"{"default": "maybe"}"#), "p.json: default: must be allow or deny"),
            (failure(SharingPolicy.self, #"{"rules": [{"owner": "A"}, {"allow": ["B"]}]}"#), "p.json: rules[1].owner: missing"),
            (failure(SharingPolicy.self, #"{"rules": [{"owner": "A", "allow": "B"}]}"#), "p.json: rules[0].allow: expected"),
            (failure(SharingPolicy.self, #"{"rules": [{"owner": ""}]}"#), "p.json: rules[0].owner: is empty"),
            (failure(SharingPolicy.self, "not json"), "p.json: not JSON"),
            (failure(RetentionPolicy.self, #"{"rules": [{"owner": "A", "keep": "3x"}]}"#), "p.json: rules[0].keep: 3x: expected a period"),
            (failure(RetentionPolicy.self, #"{"default": -5}"#), "p.json: default: a period is not negative"),
            (failure(RetentionPolicy.self, #"{"hits": true}"#), "p.json: hits: must be a period"),
        ]
        for (got, expected) in cases { #expect(got.hasPrefix(expected), "\(got) — expected \(expected)") }
    }

    /// The cameras CSV: columns in any order, each bad row named by its line.
    @Test func cameraRegistryCSV() throws {
        let csv = "name, lat,camera,agency,jurisdiction,lon\nGate,37.5,7,SFPD,CA,-122.1\n\n Dock ,,8,OPD,CA,\n"
        let registry = try CameraRegistry(csv: Array(csv.utf8), source: "c.csv")
        #expect(registry.cameras[7] == RegisteredCamera(camera: 7, agency: "SFPD", jurisdiction: "CA", latitude: 37.5, longitude: -122.1, name: "Gate"))
        #expect(registry.cameras[8]?.name == "Dock" && registry.cameras[8]?.latitude == nil && registry.cameras.count == 2)
        let bad: [(String, String)] = [
            ("camera,agency\n1,A\n", "c.csv:1: the header needs"),
            ("camera,agency,jurisdiction\n1,A,CA\n1,B,CA\n", "c.csv:3: camera 1 listed twice"),
            ("camera,agency,jurisdiction\n1,A,CA\nx,B,CA\n", "c.csv:3: camera \"x\""),
            ("camera,agency,jurisdiction,lat\n1,A,CA,91\n", "c.csv:2: lat \"91\""),
            ("camera,agency,jurisdiction\n1,A\n", "c.csv:2: 2 fields"),
            ("", "c.csv:1: empty file"),
        ]
        for (text, expected) in bad {
            do {
                _ = try CameraRegistry(csv: Array(text.utf8), source: "c.csv")
                Issue.record("accepted \(text)")
            } catch {
                #expect("\(error)".hasPrefix(expected), "\(error) — expected \(expected)")
            }
        }
    }
}
