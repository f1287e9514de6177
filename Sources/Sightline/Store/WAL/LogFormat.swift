/// Write-ahead log file format v1 (Docs/format.md, "Write-ahead log").
///
/// `header (16) | record | record | …` where a record is
/// `payloadLength u32 | crc32c u32 | sequence u64 | payload`; the CRC covers the sequence and
/// the payload. Records are appended with one `write` each and never rewritten, so only the
/// tail can be torn by a crash.
package enum LogFormat {
    /// 0x89 "SLWAL" CR LF.
    static let magic: [UInt8] = [0x89, 0x53, 0x4C, 0x57, 0x41, 0x4C, 0x0D, 0x0A]
    static let version: UInt32 = 1
    package static let headerSize = 16
    /// payloadLength(4) crc(4) sequence(8)
    static let recordHeaderSize = 16
    /// Largest payload a record may carry (guards allocation against a corrupt length).
    static let maximumPayload = 1 << 28
}

/// When the log is fsynced, and so what a crash can lose.
public enum Durability: Sendable, Hashable {
    /// fsync before every append returns: nothing acknowledged is ever lost (the default).
    case everyBatch
    /// fsync when an append finds the last fsync older than the interval: a crash of the
    /// machine (not of the process) can lose up to that window of acknowledged rows.
    case periodic(Duration)
    /// Never fsync: the OS decides. A process crash loses nothing written; a machine crash can
    /// lose everything since the OS last wrote back.
    case none
}
