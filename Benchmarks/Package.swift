// swift-tools-version: 6.1
// Benchmarks live in their own package so that services embedding Sightline never resolve
// package-benchmark. Run: cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "SightlineBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Sightline", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CodecBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Sightline", package: "Sightline"),
                .product(name: "SightlineWorkload", package: "Sightline"),
            ],
            path: "Benchmarks/CodecBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ],
    swiftLanguageModes: [.v6]
)
