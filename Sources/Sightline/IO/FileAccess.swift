/// Who may read a store's files: its owner only (the default), or its owner and its group.
///
/// A store's setting is its directory's mode, set when the store is created: 0700 for
/// `.owner`, 0750 for `.group`. Every file the engine creates in a directory that grants
/// others nothing gets the matching mode exactly, whatever the umask (`PosixFileSystem.open`):
/// 0600, or 0640 with the group — and the audit log 0660 with the group, so readers in the
/// group can append their audit records. `Store.statistics()` and `Store.verify` report any
/// file or directory wider than the setting (Docs/security.md).
public enum FileAccess: String, Sendable, CaseIterable {
    /// Directory 0700, files 0600.
    case owner
    /// Directory 0750, files 0640, the audit log 0660: the owner's group may read the store
    /// and append to its audit log (read-only openers, auditors).
    case group

    /// The store directory's mode.
    public var directoryMode: UInt16 { self == .owner ? 0o700 : 0o750 }
    /// The mode of the store's files (the audit log's: `auditLogMode`).
    public var fileMode: UInt16 { self == .owner ? 0o600 : 0o640 }
    /// The audit log's mode.
    public var auditLogMode: UInt16 { self == .owner ? 0o600 : 0o660 }

    /// The setting a store directory of mode `mode` has: `.group` when it admits its group.
    public init(directoryMode mode: UInt16) { self = mode & 0o070 != 0 ? .group : .owner }

    /// The mode a file created in a directory of mode `mode` gets: the store's setting when
    /// the directory grants others nothing (a private directory); nil elsewhere (the usual
    /// 0644 less the umask).
    static func fileMode(inDirectoryWithMode mode: UInt16) -> UInt16? {
        guard mode & 0o007 == 0 else { return nil }
        return FileAccess(directoryMode: mode).fileMode
    }

    /// One file or directory wider than the store's setting.
    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        /// Its path.
        public var path: String
        /// Its permission bits.
        public var mode: UInt16
        /// The widest the setting allows.
        public var allowed: UInt16
        /// `PATH: mode 0644 is wider than 0600 (chmod 0600 it)`.
        public var description: String {
            "\(path): mode \(FileAccess.octal(mode)) is wider than \(FileAccess.octal(allowed)) (chmod \(FileAccess.octal(mode & allowed)) it)"
        }
    }

    static func octal(_ mode: UInt16) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
