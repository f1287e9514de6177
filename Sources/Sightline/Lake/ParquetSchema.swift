/// The Parquet schema of a file Sightline writes: top-level leaf columns and groups of
/// required leaves (GeoParquet's `bbox` covering struct). No repeated fields.
struct ParquetSchema: Sendable {
    /// Parquet physical types used here (parquet.thrift `Type`).
    enum Physical: Int32, Sendable {
        case int32 = 1, int64 = 2, double = 5, byteArray = 6
    }

    /// Logical annotations used here.
    enum Logical: Sendable {
        case none
        /// UTF-8 text (`STRING`, converted type `UTF8`).
        case string
        /// Microseconds since the epoch, adjusted to UTC (`TIMESTAMP(true, MICROS)`).
        case timestampMicrosUTC
    }

    /// A leaf column.
    struct Column: Sendable {
        /// The path from the root: `["plate"]`, `["bbox", "xmin"]`.
        var path: [String]
        var physical: Physical
        var optional: Bool
        var logical: Logical
        /// Whether each chunk gets a split-block Bloom filter (readers skip row groups by it
        /// on equality: a plate's history in a file ordered by place).
        var bloomFilter = false
        var name: String { path.last! }
        /// The definition level of a present value (0 for required columns under required groups).
        var maximumDefinitionLevel: Int { optional ? 1 : 0 }
    }

    /// A top-level field.
    enum Field: Sendable {
        case leaf(Column)
        /// A required group of required leaves.
        case group(name: String, [Column])
    }

    var fields: [Field]

    /// The leaves, in file order.
    var columns: [Column] {
        fields.flatMap { field -> [Column] in
            switch field {
            case .leaf(let c): return [c]
            case .group(_, let cs): return cs
            }
        }
    }

    /// The schema as parquet.thrift `SchemaElement`s, depth first.
    func encode(into w: inout ThriftCompactWriter) {
        var count = 1
        for f in fields { if case .group(_, let cs) = f { count += 1 + cs.count } else { count += 1 } }
        w.beginList(2, .structure, count: count)
        w.beginStructValue()
        w.string(4, "schema")
        w.i32(5, Int32(fields.count))
        w.endStruct()
        for f in fields {
            switch f {
            case .leaf(let c): Self.encode(c, into: &w)
            case .group(let name, let cs):
                w.beginStructValue()
                w.i32(3, 0)  // REQUIRED
                w.string(4, name)
                w.i32(5, Int32(cs.count))
                w.endStruct()
                for c in cs { Self.encode(c, into: &w) }
            }
        }
    }

    private static func encode(_ c: Column, into w: inout ThriftCompactWriter) {
        w.beginStructValue()
        w.i32(1, c.physical.rawValue)
        w.i32(3, c.optional ? 1 : 0)
        w.string(4, c.name)
        switch c.logical {
        case .none: break
        case .string:
            w.i32(6, 0)  // converted type UTF8
            w.beginStruct(10)  // LogicalType union
            w.beginStruct(1)  // STRING
            w.endStruct()
            w.endStruct()
        case .timestampMicrosUTC:
            w.i32(6, 10)  // converted type TIMESTAMP_MICROS
            w.beginStruct(10)
            w.beginStruct(8)  // TIMESTAMP
            w.bool(1, true)  // isAdjustedToUTC
            w.beginStruct(2)  // unit
            w.beginStruct(2)  // MICROS
            w.endStruct()
            w.endStruct()
            w.endStruct()
            w.endStruct()
        }
        w.endStruct()
    }
}
