// swift-tools-version: 6.0
import PackageDescription

// The stack, one way (Docs/architecture.md draws it):
//   CZstd, CLZ4, CSightlineCRC (C)  →  Sightline (the engine)  →  SightlineWorkload (synthetic data)
//   →  SightlineTestSupport (crash-test child entry points, soak data)  →  sightline (CLI),
//   sightline-bench (generators and benchmarks; both CLIs share SightlineCommandLine),
//   sightline-crash-writer and sightline-soak (test processes), tests;
//   Sightline  →  SightlineService (swift-service-lifecycle).
// Separate targets make the outer edges enforceable: the engine cannot reach the generators
// or the test support, and nothing test-only ships in the `Sightline` product.
let package = Package(
    name: "Sightline",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Sightline", targets: ["Sightline"]),
        // Reproducible ALPR-like and dense-track sightings, for tests and benchmarks of
        // services that embed Sightline.
        .library(name: "SightlineWorkload", targets: ["SightlineWorkload"]),
        // `StoreService`: an `AsyncStore` as a swift-service-lifecycle `Service` (kept out of
        // the engine so embedders without ServiceLifecycle do not build it).
        .library(name: "SightlineService", targets: ["SightlineService"]),
        .executable(name: "sightline", targets: ["sightline"]),
        // Generators and benchmarks (`generate`, `measure`, `bench`, …), apart from the user's tool.
        .executable(name: "sightline-bench", targets: ["sightline-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // Metrics and tracing APIs only: the embedding service chooses the backends.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // SHA-256 for the audit log's hash chain.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"]), .brew(["lz4"])]
        ),
        // CRC32C with the SSE4.2 instruction where the CPU has it, chosen at run time,
        // so the package needs no compiler flags at all.
        .target(name: "CSightlineCRC"),
        .target(
            name: "Sightline",
            dependencies: [
                "CZstd", "CLZ4", "CSightlineCRC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "SightlineService", dependencies: [
            "Sightline", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "SightlineWorkload", dependencies: ["Sightline"]),
        // Entry points of the crash tests' child process; not a product.
        .target(name: "SightlineTestSupport", dependencies: [
            "Sightline", "SightlineWorkload", .product(name: "Logging", package: "swift-log"),
        ]),
        // What the two command-line tools share: argument groups, the runner, progress and
        // formatting; not a product.
        .target(name: "SightlineCommandLine", dependencies: [
            "Sightline", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(
            name: "sightline",
            dependencies: [
                "Sightline", "SightlineCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "sightline-bench",
            dependencies: [
                "Sightline", "SightlineWorkload", "SightlineCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Child process for the crash tests (killed with SIGKILL mid-write); not a product.
        .executableTarget(name: "sightline-crash-writer", dependencies: ["SightlineTestSupport"]),
        // The chaos soak (Scripts/soak.sh): a writer it kills at random, readers, an oracle; not a product.
        .executableTarget(name: "sightline-soak", dependencies: [
            "Sightline", "SightlineWorkload", "SightlineTestSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SightlineTests", dependencies: [
            "Sightline", "SightlineWorkload", "SightlineTestSupport", "SightlineService", "sightline", "sightline-bench", "sightline-crash-writer",
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
