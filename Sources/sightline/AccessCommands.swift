import ArgumentParser
import Foundation
import Sightline
import SightlineCommandLine

/// `sightline audit`: the store's audit log — list it, verify its chain, anchor its head.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The store's audit log: every read, refusal, purge, retention deletion and policy change, hash-chained.",
        subcommands: [AuditListCommand.self, AuditVerifyCommand.self, AuditAnchorCommand.self],
        defaultSubcommand: AuditListCommand.self)
}

/// Output options of `audit list`.
struct AuditOutputOptions: ParsableArgumentsWithFormat {
    @Option(help: "Output: csv, ndjson or table.") var format: QueryOptions.OutputFormat = .csv
    @Flag(help: "Times as epoch milliseconds instead of RFC 3339.") var epochMs = false
}

struct AuditListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list",
        abstract: "List audit records: sequence,time,requester,agency,purpose,case,operation,query,rows,plates,outcome,detail in log order.",
        discussion: "Plates appear only as their keyed hash (#…); --plate finds the records that name one. rows and plates are -1 where not known (a cursor's rows stream after its record).")
    @Argument(help: "Store directory.") var store: String
    @Option(help: "From this time, inclusive (epoch ms or RFC 3339).") var from: String?
    @Option(help: "To this time, exclusive.") var to: String?
    @Option(help: "Only this requester.") var requester: String?
    @Option(help: "Only this agency.") var agency: String?
    @Option(help: "Only records that name this plate (by its keyed hash).") var plate: String?
    @OptionGroup var output: AuditOutputOptions

    func run() throws {
        let lower = try parseTime(from, "from") ?? .min, upper = try parseTime(to, "to") ?? .max
        do {
            var named: String?
            if let plate { named = "#" + String(format: "%016llx", try openReadOnly(store).hasher.key(try Plate(plate))) }
            let records = try AuditLog.records(directory: store).filter { r in
                r.time >= lower && r.time < upper && (requester.map { r.access.requester == $0 } ?? true)
                    && (agency.map { r.access.agency == $0 } ?? true) && (named.map { r.query.contains($0) } ?? true)
            }
            printRecords(["sequence", "time", "requester", "agency", "purpose", "case", "operation", "query", "rows", "plates", "outcome", "detail"],
                         records.map { r -> [RecordField] in
                [.number(Int(r.sequence)), .time(r.time), .text(r.access.requester), .text(r.access.agency), .text(r.access.purpose),
                 .text(r.access.caseNumber ?? ""), .text(r.operation), .text(r.query), .number(Int(r.rows)), .number(Int(r.plates)),
                 .text(r.outcome.rawValue), .text(r.detail)]
            }, output)
        } catch { throw CommandFailure(error) }
    }
}

struct AuditVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify",
        abstract: "Check the audit log's hash chain; name the first record altered, removed, reordered or inserted (exit 1).",
        discussion: "With --anchor (a file from `sightline audit anchor`, kept outside the store) a log cut back to before the anchor is caught too.")
    @Argument(help: "Store directory.") var store: String
    @Option(help: "An anchor file written by `sightline audit anchor`.") var anchor: String?

    func run() throws {
        do {
            let anchored = try anchor.map { path throws -> AuditAnchor in
                try AuditAnchor(text: String(contentsOfFile: path, encoding: .utf8), source: path)
            }
            let result = try AuditLog.verify(directory: store, anchor: anchored)
            for note in result.notes { print("note: \(note)") }
            if let problem = result.problem {
                print("audit log NOT sound: \(problem)")
                throw ExitCode(1)
            }
            print("audit log sound: \(result.records) records, head \(result.head)" + (anchored.map { ", matches the anchor at record \($0.records)" } ?? ""))
        } catch let e as ExitCode { throw e } catch { throw CommandFailure(error) }
    }
}

struct AuditAnchorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "anchor",
        abstract: "Write the audit log's head (record count and hash) to FILE; keep it outside the store.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "The anchor file to write (outside the store directory).") var file: String

    func run() throws {
        let storePath = URL(fileURLWithPath: store).standardizedFileURL.path
        let filePath = URL(fileURLWithPath: file).standardizedFileURL.path
        guard !filePath.hasPrefix(storePath + "/") else {
            throw ValidationError("the anchor belongs outside the store: whoever can rewrite the log can rewrite a file beside it")
        }
        do {
            let result = try AuditLog.verify(directory: store)
            guard result.isSound else { throw ValidationError("not anchoring a log that fails verification: \(result.problem!)") }
            let anchor = try AuditLog.anchor(directory: store)
            try anchor.text.write(toFile: file, atomically: true, encoding: .utf8)
            print("anchored \(anchor.records) records, head \(anchor.head) → \(file)")
        } catch let e as ValidationError { throw e } catch { throw CommandFailure(error) }
    }
}

/// `sightline access`: show or set what every read must state.
struct AccessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "access",
        abstract: "Show or set what every read of the store must state: none, purpose, or purpose+case.")
    @Argument(help: "Store directory.") var store: String
    @Option(help: "none, purpose or purpose+case.") var require: String?
    @OptionGroup var access: AccessArguments

    func run() throws {
        guard let require else {
            do { print("access: require \(try openReadOnly(store).accessRequirement.rawValue)") } catch { throw CommandFailure(error) }
            return
        }
        guard let requirement = AccessRequirement(rawValue: require) else { throw ValidationError("--require must be none, purpose or purpose+case") }
        let context = access.context
        try maintain(store) { m throws(SightlineError) in try m.setAccessRequirement(requirement, by: context) }
        print("access: require \(requirement.rawValue)")
    }
}

/// `sightline init`: an empty store that requires a stated purpose of every read.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init",
        abstract: "Create an empty store; by default every read must state a purpose (--require).")
    @Argument(help: "Store directory (created).") var store: String
    @Option(help: "none, purpose or purpose+case.") var require = "purpose"
    @Option(help: "Keep the plate-key secret in this file outside the store (created, mode 0600, when missing); every later command then needs SIGHTLINE_SECRET_FILE=PATH.")
    var secretFile: String?
    @Option(help: "owner (directory 0700, files 0600) or group (0750, 0640, the audit log 0660: the group may read the store and append to its audit log).")
    var fileAccess = "owner"
    @Option(help: "aes-256-gcm (segments sealed, a data key per segment in the keyring; the default) or none (in clear).")
    var encryption = "aes-256-gcm"

    func run() throws {
        guard let requirement = AccessRequirement(rawValue: require) else { throw ValidationError("--require must be none, purpose or purpose+case") }
        guard let files = FileAccess(rawValue: fileAccess) else { throw ValidationError("--file-access must be owner or group") }
        guard let sealing = StoreEncryption(rawValue: encryption) else { throw ValidationError("--encryption must be aes-256-gcm or none") }
        var options = cliStoreOptions()
        options.newStoreAccess = requirement
        options.fileAccess = files
        options.encryption = sealing
        if let secretFile {
            let storePath = URL(fileURLWithPath: store).standardizedFileURL.path
            guard !URL(fileURLWithPath: secretFile).standardizedFileURL.path.hasPrefix(storePath + "/") else {
                throw ValidationError("--secret-file must be outside the store directory")
            }
            options.secretSource = .file(secretFile)
        }
        do {
            guard (try? ReadOnlyStore(directory: store)) == nil else { throw ValidationError("\(store) already holds a store") }
            try Store(directory: store, options: options).close()
        } catch let e as ValidationError { throw e } catch { throw CommandFailure(error) }
        if let secretFile { print("plate-key secret: \(secretFile) (outside the store; set SIGHTLINE_SECRET_FILE=\(secretFile) to open it)") }
        print("created \(store): every read must state \(requirement == .none ? "nothing (reads are audited all the same)" : requirement == .purpose ? "a purpose" : "a purpose and a case number")")
    }
}

/// `sightline cameras STORE load FILE | list`: the camera registry.
struct CamerasCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cameras",
        abstract: "The camera registry: load FILE (CSV camera,agency,jurisdiction[,kind,lat,lon,name]) or list it.",
        discussion: "Each sighting belongs to its camera's agency; rows from unregistered cameras to --default-owner AGENCY:JURISDICTION (none: the policy's default decides). load replaces the registry; a bad line is reported with its number and nothing changes.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "load or list.") var action: String
    @Argument(help: "The CSV file (load).") var file: String?
    @Option(help: "Owner of rows from unregistered cameras, AGENCY:JURISDICTION.") var defaultOwner: String?
    @OptionGroup var access: AccessArguments

    func run() throws {
        switch action {
        case "list":
            do {
                let registry = try openReadOnly(store).cameraRegistry
                print("camera,agency,jurisdiction,kind,lat,lon,name")
                for c in registry.sorted {
                    print([String(c.camera), c.agency, c.jurisdiction, c.kind, c.latitude.map { "\($0)" } ?? "", c.longitude.map { "\($0)" } ?? "", c.name]
                        .map(csvField).joined(separator: ","))
                }
                if let d = registry.defaultOwner { FileHandle.standardError.write(Data("default owner: \(d.agency):\(d.jurisdiction)\n".utf8)) }
            } catch { throw CommandFailure(error) }
        case "load":
            guard let file else { throw ValidationError("cameras load needs a CSV file") }
            var registry = try Self.parse(file)
            if let defaultOwner {
                let parts = defaultOwner.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--default-owner must be AGENCY:JURISDICTION") }
                registry.defaultOwner = CameraRegistry.Owner(agency: parts[0], jurisdiction: parts[1])
            }
            let context = access.context
            try maintain(store) { m throws(SightlineError) in try m.setCameraRegistry(registry, by: context) }
            print("loaded \(registry.cameras.count) cameras")
        default:
            throw ValidationError("cameras takes load FILE or list, not \(action)")
        }
    }

    /// The registry in a CSV file (the library's parser; a bad line is a usage error).
    static func parse(_ path: String) throws -> CameraRegistry {
        do { return try CameraRegistry(csvFile: path) } catch { throw ValidationError("\(error)") }
    }
}

/// `sightline policy STORE set FILE | show`: the sharing policy (JSON).
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy",
        abstract: "The sharing policy: set FILE (JSON) or show it.",
        discussion: """
            {"default": "allow" | "deny", "rules": [{"owner": "AGENCY" | "jurisdiction:XX", "allow": [...], "deny": [...]}]}
            For a row, the rules naming its agency apply if any, else those naming its jurisdiction; the requester reads it \
            when its agency or jurisdiction is in an applicable allow and in no applicable deny; no rule: default. Owners read their own rows.
            """)
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "set or show.") var action: String
    @Argument(help: "The policy file (set).") var file: String?
    @OptionGroup var access: AccessArguments

    func run() throws {
        switch action {
        case "show":
            do { print(Self.json(try openReadOnly(store).sharingPolicy)) } catch { throw CommandFailure(error) }
        case "set":
            guard let file else { throw ValidationError("policy set needs a JSON file") }
            let policy = try Self.parse(file)
            let context = access.context
            try maintain(store) { m throws(SightlineError) in try m.setSharingPolicy(policy, by: context) }
            print("policy set: default \(policy.defaultAllows ? "allow" : "deny"), \(policy.rules.count) rules")
        default:
            throw ValidationError("policy takes set FILE or show, not \(action)")
        }
    }

    /// The policy file, read by the library (`PolicyDocument`); a bad one is a usage error.
    static func parse(_ path: String) throws -> SharingPolicy {
        do { return try PolicyDocument.read(SharingPolicy.self, path: path) } catch { throw ValidationError("\(error)") }
    }

    static func json(_ policy: SharingPolicy) -> String {
        let object: [String: Any] = ["default": policy.defaultAllows ? "allow" : "deny",
                                     "rules": policy.rules.map { ["owner": $0.owner, "allow": $0.allow, "deny": $0.deny] }]
        return prettyJSON(object)
    }
}

/// `sightline retention STORE set FILE | show | enforce`: retention periods per owner.
struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retention",
        abstract: "Retention per owner: set FILE (JSON), show it, or enforce it now.",
        discussion: """
            {"default": "90d", "hits": "2y", "rules": [{"owner": "AGENCY" | "jurisdiction:XX", "keep": "3m", "hits": "3y"}, ...]}
            A row's period is that of the first rule naming its camera's agency, else its jurisdiction, else the default \
            (null or absent: kept until purged). "hits" keeps rows that matched a hotlist longer. Periods: 3m, 21d, 18mo (30 d), \
            2y (365 d), 12h, 45s, 2w or milliseconds. Rows past their period are gone from answers at once and from disk \
            at the owner's next retention run (enforce runs one now); held rows stay. Setting and deleting are audited.
            """)
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "set, show or enforce.") var action: String
    @Argument(help: "The retention file (set).") var file: String?
    @OptionGroup var access: AccessArguments

    func run() throws {
        switch action {
        case "show":
            do { print(Self.json(try openReadOnly(store).retentionPolicy)) } catch { throw CommandFailure(error) }
        case "set":
            guard let file else { throw ValidationError("retention set needs a JSON file") }
            let policy = try Self.parse(file)
            let context = access.context
            try maintain(store) { m throws(SightlineError) in try m.setRetentionPolicy(policy, by: context) }
            print("retention set: default \(policy.defaultPeriod.map(RetentionPolicy.text) ?? "none"), \(policy.rules.count) rules")
        case "enforce":
            let clock = ContinuousClock()
            let start = clock.now
            let summary = try maintain(store) { m throws(SightlineError) in try m.enforceRetention() }
            printSummary(summary, clock.now - start)
        default:
            throw ValidationError("retention takes set FILE, show or enforce, not \(action)")
        }
    }

    /// The retention file, read by the library (`PolicyDocument`); a bad one is a usage error.
    static func parse(_ path: String) throws -> RetentionPolicy {
        do { return try PolicyDocument.read(RetentionPolicy.self, path: path) } catch { throw ValidationError("\(error)") }
    }

    static func json(_ policy: RetentionPolicy) -> String {
        func t(_ d: Duration?) -> Any { d.map(RetentionPolicy.text) ?? NSNull() }
        let object: [String: Any] = ["default": t(policy.defaultPeriod), "hits": t(policy.defaultHits),
                                     "rules": policy.rules.map { ["owner": $0.owner, "keep": t($0.keep), "hits": t($0.hits)] }]
        return prettyJSON(object)
    }
}

/// `sightline hold STORE add|release|list`: legal holds.
struct HoldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hold",
        abstract: "Legal holds: add --case N (--plate P | --bbox/--circle/--polygon) [--from T] [--to T]; release ID|CASE; list.",
        discussion: "Held rows survive retention and compaction until released, stay readable past the retention period, and purge refuses them unless --force. Placing and releasing are audited.")
    @Argument(help: "Store directory.") var store: String
    @Argument(help: "add, release or list.") var action: String
    @Argument(help: "The hold id or case number (release).") var target: String?
    @Option(help: "Hold this plate's sightings (add).") var plate: String?
    @OptionGroup var region: AreaOptions
    @Option(help: "From this time, inclusive (epoch ms or RFC 3339).") var from: String?
    @Option(help: "To this time, exclusive.") var to: String?
    @OptionGroup var access: AccessArguments

    func run() throws {
        let context = access.context
        switch action {
        case "list":
            do {
                let holds = try HoldsList.read(store)
                print("id,case,scope,from,to,placed,by")
                for h in holds {
                    let scope = h.plate.map { "plate \($0.text)" } ?? "area"
                    print([h.id, h.caseNumber, scope, h.time.from.map(Timestamp.rfc3339) ?? "", h.time.to.map(Timestamp.rfc3339) ?? "",
                           Timestamp.rfc3339(h.placedAt), h.placedBy].map(csvField).joined(separator: ","))
                }
            } catch { throw CommandFailure(error) }
        case "add":
            // --case names the hold's case (and, as on every command, the case of the request).
            guard let caseNumber = access.caseNumber, !caseNumber.isEmpty else { throw ValidationError("hold add needs --case") }
            let hasArea = region.bbox != nil || region.circle != nil || region.polygon != nil
            guard (plate != nil) != hasArea else { throw ValidationError("hold add needs exactly one of --plate, --bbox, --circle, --polygon") }
            let hold: LegalHold
            do {
                hold = try LegalHold(caseNumber: caseNumber, plate: try plate.map { try Plate($0) }, area: hasArea ? try region.area() : nil,
                                     time: try TimeRange(from: try parseTime(from, "from"), to: try parseTime(to, "to")))
            } catch let e as SightlineError { throw ValidationError("\(e)") }
            let id = try maintain(store) { m throws(SightlineError) in try m.placeLegalHold(hold, by: context) }
            print("placed \(id) (case \(caseNumber))")
        case "release":
            guard let target else { throw ValidationError("hold release needs the hold id or the case number") }
            let released = try maintain(store) { m throws(SightlineError) in try m.releaseLegalHold(target, by: context) }
            guard !released.isEmpty else { throw ValidationError("no hold \(target)") }
            print("released \(released.joined(separator: " "))")
        default:
            throw ValidationError("hold takes add, release or list, not \(action)")
        }
    }
}

/// The holds as the store has them (read-only).
enum HoldsList {
    static func read(_ store: String) throws -> [LegalHold] {
        // The owner writes HOLDS; any reader may list it. Opening read-only checks it is a store.
        _ = try openReadOnly(store)
        return try ReadOnlyStore.legalHolds(directory: store)
    }
}

/// `object` as indented JSON with sorted keys (what `policy show` and `retention show` print).
func prettyJSON(_ object: [String: Any]) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data(), as: UTF8.self)
}
