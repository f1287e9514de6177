/// Thrift's compact protocol, read into a generic tree: enough to read back the Parquet
/// files Sightline writes (tests, `export --check`) without a generated schema. Bounded:
/// nesting depth, lengths and element counts are checked against the bytes left, so
/// damaged input gives a `corruptFile` error naming the offset, never a crash.
enum ThriftValue: Equatable {
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case binary([UInt8])
    case list([ThriftValue])
    case structure([Int16: ThriftValue])

    /// Field `id` of a struct.
    subscript(_ id: Int16) -> ThriftValue? {
        if case .structure(let fields) = self { return fields[id] }
        return nil
    }

    var integer: Int64? { if case .integer(let v) = self { return v }; return nil }
    var binary: [UInt8]? { if case .binary(let v) = self { return v }; return nil }
    var list: [ThriftValue]? { if case .list(let v) = self { return v }; return nil }
    var bool: Bool? { if case .bool(let v) = self { return v }; return nil }
    var string: String? { binary.map { String(decoding: $0, as: UTF8.self) } }
}

struct ThriftCompactReader {
    private let bytes: [UInt8]
    private(set) var position: Int
    private let path: String
    private let base: Int64
    static let maximumDepth = 32

    /// Reads from `bytes` at `position`; errors name `path` and `base + offset`.
    init(_ bytes: [UInt8], at position: Int = 0, path: String, base: Int64 = 0) {
        self.bytes = bytes
        self.position = position
        self.path = path
        self.base = base
    }

    private func corrupt(_ reason: String) -> SightlineError {
        .corruptFile(path: path, offset: base + Int64(position), reason: "thrift: \(reason)")
    }

    /// One struct, from its first field header to its stop byte.
    mutating func readStruct(depth: Int = 0) throws(SightlineError) -> ThriftValue {
        guard depth < Self.maximumDepth else { throw corrupt("nested too deeply") }
        var fields: [Int16: ThriftValue] = [:]
        var last: Int64 = 0
        while true {
            let header = try byte()
            if header == 0 { return .structure(fields) }
            let type = header & 0x0F
            let delta = Int64(header >> 4)
            let id: Int64
            if delta != 0 { id = last + delta } else { id = zigZagDecode(try varint()) }
            guard id >= Int64(Int16.min) && id <= Int64(Int16.max) else { throw corrupt("field id \(id) out of range") }
            last = id
            fields[Int16(id)] = try value(type: type, depth: depth)
        }
    }

    private mutating func value(type: UInt8, depth: Int) throws(SightlineError) -> ThriftValue {
        switch type {
        case 1: return .bool(true)
        case 2: return .bool(false)
        case 3: return .integer(Int64(Int8(bitPattern: try byte())))
        case 4, 5, 6: return .integer(zigZagDecode(try varint()))
        case 7:
            guard bytes.count - position >= 8 else { throw corrupt("double past the end") }
            var bits: UInt64 = 0
            for i in 0..<8 { bits |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            return .double(Double(bitPattern: bits))
        case 8:
            let n = try varint()
            guard n <= UInt64(bytes.count - position) else { throw corrupt("binary of \(n) bytes past the end") }
            let v = Array(bytes[position..<(position + Int(n))])
            position += Int(n)
            return .binary(v)
        case 9, 10:
            let header = try byte()
            var count = UInt64(header >> 4)
            if count == 15 { count = try varint() }
            // Every element takes at least one byte (a bool element too, in this protocol).
            guard count <= UInt64(bytes.count - position) else { throw corrupt("list of \(count) elements past the end") }
            let elementType = header & 0x0F
            var elements: [ThriftValue] = []
            elements.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                if elementType == 1 || elementType == 2 { elements.append(.bool(try byte() == 1)); continue }
                elements.append(try value(type: elementType, depth: depth + 1))
            }
            return .list(elements)
        case 12: return try readStruct(depth: depth + 1)
        default: throw corrupt("unsupported field type \(type)")
        }
    }

    private mutating func byte() throws(SightlineError) -> UInt8 {
        guard position < bytes.count else { throw corrupt("struct past the end") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func varint() throws(SightlineError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw corrupt("varint longer than 10 bytes") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }
}
