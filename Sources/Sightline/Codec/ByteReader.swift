/// A bounds-checked little-endian reader over bytes of a file. Every read that would run
/// past the end throws `SightlineError.corruptFile` naming the file and the absolute offset,
/// so malformed input can never crash the process.
@usableFromInline
internal struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    /// Offset of `bytes[0]` within the file, for error messages.
    let fileOffset: Int64
    let path: String
    private(set) var position: Int = 0

    init(_ bytes: UnsafeRawBufferPointer, fileOffset: Int64, path: String) {
        self.bytes = bytes
        self.fileOffset = fileOffset
        self.path = path
    }

    var remaining: Int { bytes.count - position }

    /// Moves to `offset` (a caller that decoded in place up to there).
    mutating func skip(to offset: Int) {
        precondition(offset >= position && offset <= bytes.count)
        position = offset
    }
    var isAtEnd: Bool { position == bytes.count }

    func corrupt(_ reason: String, at pos: Int? = nil) -> SightlineError {
        .corruptFile(path: path, offset: fileOffset + Int64(pos ?? position), reason: reason)
    }

    mutating func require(_ n: Int, _ what: @autoclosure () -> String) throws(SightlineError) {
        guard n >= 0, n <= remaining else {
            throw corrupt("\(what()) needs \(n) bytes, \(remaining) left")
        }
    }

    mutating func readByte(_ what: @autoclosure () -> String = "byte") throws(SightlineError) -> UInt8 {
        try require(1, what())
        defer { position += 1 }
        return bytes[position]
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String = "field") throws(SightlineError) -> T {
        try require(MemoryLayout<T>.size, what())
        defer { position += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    mutating func readVarint(_ what: @autoclosure () -> String = "varint") throws(SightlineError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < bytes.count else { throw corrupt("\(what()) runs past the end", at: start) }
            let b = bytes[position]
            position += 1
            if shift == 63 && b > 1 { throw corrupt("\(what()) overflows 64 bits", at: start) }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw corrupt("\(what()) longer than 10 bytes", at: start) }
        }
    }

    /// A varint that must fit in `0...limit`.
    mutating func readLength(_ what: @autoclosure () -> String, limit: Int) throws(SightlineError) -> Int {
        let start = position
        let v = try readVarint(what())
        guard v <= UInt64(limit) else { throw corrupt("\(what()) \(v) exceeds \(limit)", at: start) }
        return Int(v)
    }

    /// The next `n` bytes, without copying.
    mutating func readBytes(_ n: Int, _ what: @autoclosure () -> String) throws(SightlineError) -> UnsafeRawBufferPointer {
        try require(n, what())
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }
}
