@testable import Sightline

/// Decoders of the GeoParquet export: what `sightline export --check` reads from a
/// directory anyone may have edited.
enum LakeTargets {
    /// The export manifest (`_sightline_export`): decoded manifests re-encode to what decodes the same.
    static func exportManifest(_ bytes: [UInt8]) {
        guard let m = try? LakeManifest.decode(bytes, path: "_sightline_export") else { return }
        fuzzCheck((try? LakeManifest.decode(m.encode(), path: "_sightline_export")) == m, "an export manifest does not survive a re-encode")
    }

    /// A Parquet file: footer, schema, row groups, Bloom filters, then every column's pages. Whatever
    /// decodes holds as many values per column as the footer states rows.
    static func parquet(_ bytes: [UInt8]) {
        guard let reader = try? ParquetFileReader(bytes: bytes, path: "part-0.parquet") else { return }
        for group in reader.rowGroups.indices {
            for path in [["plate"], ["plate_key"]] { _ = try? reader.bloomFilterMayContain(group: group, columnPath: path, hash: UInt64(group)) }
        }
        for leaf in reader.leaves {
            guard let values = try? reader.values(of: leaf.path) else { continue }
            let count: Int
            switch values {
            case .int32(let v): count = v.count
            case .int64(let v): count = v.count
            case .double(let v): count = v.count
            case .byteArray(let v): count = v.count
            }
            let stated = reader.rowGroups.reduce(Int64(0)) { total, chunks in
                total + (chunks.first { $0.path == leaf.path }?.values ?? 0)
            }
            fuzzCheck(Int64(count) == stated, "column \(leaf.path) decoded \(count) values where its chunks state \(stated)")
        }
    }

    /// Seeds: a real export's file (both orders, with nulls) and manifest.
    static func seeds(_ put: (String, String, [UInt8]) -> Void, hasher: PlateHasher) throws {
        let rows = SeedCorpus.alprRows(seed: 9, rows: 300).sightings.sorted { Query.ordered($0, $1, history: false) }
        for order in LakeExportOptions.Order.allCases {
            var options = LakeExportOptions()
            options.order = order
            options.rowGroupRows = 120
            let (bytes, groups) = try LakePartitionEncoder(options: options, hasher: hasher).encode(rows, parallelism: 1)
            put("parquet", order.rawValue, bytes)
            let manifest = LakeManifest(settings: .init(order: order, pseudonymous: false, compression: "zstd(3)", agency: "SFPD"),
                                        partitions: ["2024-06-01": .init(day: "2024-06-01", rows: rows.count, rowGroups: groups,
                                                                         bytes: Int64(bytes.count), crc: CRC32C.checksum(bytes),
                                                                         digest: LakePartitionEncoder.digest(LakePartitionEncoder(options: options, hasher: hasher).arrange(SightingBatch(rows))), sources: ["000001.sls", "wal"])])
            put("export-manifest", order.rawValue, manifest.encode())
        }
        var options = LakeExportOptions()
        options.pseudonymous = true
        options.compression = .none
        put("parquet", "pseudonymous-uncompressed", try LakePartitionEncoder(options: options, hasher: hasher).encode(rows, parallelism: 1).bytes)
    }
}
