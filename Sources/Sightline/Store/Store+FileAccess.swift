/// Owner-only files: applying a new store's `FileAccess` setting, and finding what is wider.
extension Store {
    /// Sets a new store's directory to `access` before anything is written to it, and the
    /// files a crashed creation may have left there (the lock, the secret or its check, the
    /// access file, temporary files); other files in the directory are not the store's.
    static func applyFileAccess(_ access: FileAccess, directory: String, names: [String],
                                fileSystem: any FileSystem) throws(SightlineError) {
        try fileSystem.setPermissions(directory, access.directoryMode)
        let ours: Set<String> = [StoreLock.fileName, secretFileName, SecretCheckFile.fileName, AccessFile.fileName]
        for name in names where ours.contains(name) || name.contains(".tmp-") {
            try fileSystem.setPermissions("\(directory)/\(name)", name == AuditLogFormat.fileName ? access.auditLogMode : access.fileMode)
        }
    }

    /// Every entry of the store at `directory` (and the directory itself) wider than the
    /// store's setting (`FileAccess(directoryMode:)`: the directory's group bits say whether
    /// the group is admitted); a directory granting others anything is itself reported.
    static func permissionFindings(directory: String, fileSystem: any FileSystem) throws(SightlineError) -> [FileAccess.Finding] {
        let directoryMode = try fileSystem.permissions(directory)
        let access = FileAccess(directoryMode: directoryMode)
        var found: [FileAccess.Finding] = []
        if directoryMode & ~access.directoryMode != 0 {
            found.append(FileAccess.Finding(path: directory, mode: directoryMode, allowed: access.directoryMode))
        }
        for name in try fileSystem.contentsOfDirectory(directory) {
            let path = "\(directory)/\(name)"
            guard let mode = try? fileSystem.permissions(path) else { continue }  // removed meanwhile
            let allowed = name == AuditLogFormat.fileName ? access.auditLogMode : access.fileMode
            if mode & ~allowed != 0 { found.append(FileAccess.Finding(path: path, mode: mode, allowed: allowed)) }
        }
        return found
    }

}
