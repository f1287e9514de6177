/// Write-ahead log file format (Docs/format.md, "Write-ahead log").
///
/// `header | record | record | …` where a record is
/// `payloadLength u32 | crc32c u32 | sequence u64 | payload`; the CRC covers the sequence and
/// the payload. Records are appended with one `write` each and never rewritten, so only the
/// tail can be torn by a crash. Version 1 (in clear): the header is
/// `magic (8) | version u32 | crc32c u32` (16 bytes). Version 2 (sealed): the header is
/// `magic (8) | version u32 | keyID (16) | salt (16) | crc32c u32` (48 bytes) and each
/// payload is sealed by a `RecordSealer` (`nonce | ciphertext | tag`); the CRC still covers
/// what is on disk, so a torn tail is told from damage without the key.
package enum LogFormat {
    /// 0x89 "SLWAL" CR LF.
    static let magic: [UInt8] = [0x89, 0x53, 0x4C, 0x57, 0x41, 0x4C, 0x0D, 0x0A]
    static let version: UInt32 = 1
    static let sealedVersion: UInt32 = 2
    /// The header of a version-1 log (in clear); the shortest there is.
    package static let headerSize = 16
    static let sealedHeaderSize = 48

    /// How many leading bytes of the log `bytes` are its header and whole, checksummed
    /// records in sequence (0 when the header itself is not whole): what a copy of a log
    /// being appended to keeps. Needs no key: the checksums cover what is on disk.
    static func validPrefix(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { raw -> Int in
            guard raw.count >= headerSize, Array(raw[0..<8]) == magic else { return 0 }
            let version = raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
            let header = version == sealedVersion ? sealedHeaderSize : headerSize
            guard raw.count >= header else { return 0 }
            var at = header
            var expected: UInt64?
            while raw.count - at >= recordHeaderSize {
                let length = Int(raw.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
                let crc = raw.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self).littleEndian
                guard length <= maximumPayload, raw.count - at - recordHeaderSize >= length,
                      CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(at + 8)..<(at + recordHeaderSize + length)])) == crc else { break }
                let sequence = raw.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self).littleEndian
                if let expected, sequence != expected { break }
                expected = sequence &+ 1
                at += recordHeaderSize + length
            }
            return at
        }
    }

    /// The header of a new log, sealed by `sealer` when given.
    static func header(sealer: RecordSealer?) -> [UInt8] {
        RecordSealer.logHeader(magic: magic, clear: version, sealed: sealedVersion, sealer: sealer)
    }
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
