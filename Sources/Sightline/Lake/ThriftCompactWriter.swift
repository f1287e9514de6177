/// Thrift's compact protocol, written: the encoding of Parquet's page headers and footer.
/// Only what Parquet's metadata uses: structs, lists, i16/i32/i64, binary, bool.
///
/// Field headers carry the field-id delta from the previous field of the same struct, so
/// the writer keeps that id per open struct (`fieldStack`).
struct ThriftCompactWriter {
    /// Compact-protocol type codes.
    enum TypeCode: UInt8 {
        case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7, binary = 8, list = 9, set = 10, map = 11, structure = 12
    }

    private(set) var bytes: [UInt8] = []
    private var lastField: Int16 = 0
    private var fieldStack: [Int16] = []

    init() { bytes.reserveCapacity(256) }

    // MARK: Fields

    mutating func field(_ id: Int16, _ type: TypeCode) {
        let delta = id - lastField
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            varint(zigZag(Int64(id)))
        }
        lastField = id
    }

    mutating func i32(_ id: Int16, _ value: Int32) { field(id, .i32); varint(zigZag(Int64(value))) }
    mutating func i64(_ id: Int16, _ value: Int64) { field(id, .i64); varint(zigZag(value)) }
    mutating func i16(_ id: Int16, _ value: Int16) { field(id, .i16); varint(zigZag(Int64(value))) }
    mutating func byte(_ id: Int16, _ value: Int8) { field(id, .byte); bytes.append(UInt8(bitPattern: value)) }
    mutating func bool(_ id: Int16, _ value: Bool) { field(id, value ? .boolTrue : .boolFalse) }
    mutating func binary(_ id: Int16, _ value: [UInt8]) { field(id, .binary); binaryValue(value) }
    mutating func string(_ id: Int16, _ value: String) { binary(id, Array(value.utf8)) }

    /// Opens a struct-valued field; close it with `endStruct()`.
    mutating func beginStruct(_ id: Int16) { field(id, .structure); beginStructValue() }

    /// A list field of `count` elements of `element` type; the caller writes the elements
    /// (`*Value`, or `beginStructValue`/`endStruct` for structs).
    mutating func beginList(_ id: Int16, _ element: TypeCode, count: Int) {
        field(id, .list)
        listHeader(element, count: count)
    }

    // MARK: Values (list elements, top level)

    mutating func listHeader(_ element: TypeCode, count: Int) {
        if count < 15 {
            bytes.append(UInt8(count) << 4 | element.rawValue)
        } else {
            bytes.append(0xF0 | element.rawValue)
            varint(UInt64(count))
        }
    }

    mutating func i32Value(_ value: Int32) { varint(zigZag(Int64(value))) }
    mutating func binaryValue(_ value: [UInt8]) { varint(UInt64(value.count)); bytes.append(contentsOf: value) }
    mutating func stringValue(_ value: String) { binaryValue(Array(value.utf8)) }

    /// Starts a struct value (a list element or the top-level struct).
    mutating func beginStructValue() {
        fieldStack.append(lastField)
        lastField = 0
    }

    /// Writes the stop byte and returns to the enclosing struct's field ids.
    mutating func endStruct() {
        bytes.append(0)
        lastField = fieldStack.popLast() ?? 0
    }

    // MARK: Integers

    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private func zigZag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
}
