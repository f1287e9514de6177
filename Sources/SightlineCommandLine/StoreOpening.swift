import Foundation
import Sightline

/// Opens an existing store for reading, without its lock: works while another process (an
/// ingest, a service) owns it, and sees that owner's acknowledged rows.
package func openReadOnly(_ path: String) throws -> ReadOnlyStore {
    do { return try ReadOnlyStore(directory: path, options: cliStoreOptions()) } catch { throw CommandFailure(error) }
}

/// A snapshot of an existing store, opened read-only, read on behalf of `access` (every
/// read through it is audited; refused without a purpose where the store requires one).
package func openSnapshot(_ path: String, _ access: AccessArguments) throws -> StoreSnapshot {
    do { return try openReadOnly(path).snapshot(access: access.context) } catch { throw CommandFailure(error) }
}

/// Opens an existing store as its owner, for maintenance (never creates one).
package func openStore(_ path: String) throws -> Store {
    var options = cliStoreOptions()
    options.createIfMissing = false
    guard FileManager.default.fileExists(atPath: "\(path)/MANIFEST") else {
        throw CommandFailure(SightlineError.invalidArgument("\(path) holds no store"))
    }
    do { return try Store(directory: path, options: options) } catch { throw CommandFailure(error) }
}

