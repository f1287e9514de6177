// swift-tools-version: 6.0
import PackageDescription

// An HTTP service embedding one Sightline store: the proof that the library embeds (issue 10).
// Its own package so the engine's users do not build Hummingbird; depends on the root by path.
let package = Package(
    name: "SightlineServer",
    platforms: [.macOS(.v14)],
    products: [.executable(name: "sightline-server", targets: ["SightlineServer"])],
    dependencies: [
        .package(name: "Sightline", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(name: "SightlineServer", dependencies: [
            .product(name: "Sightline", package: "Sightline"),
            .product(name: "SightlineService", package: "Sightline"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SightlineServerTests", dependencies: ["SightlineServer"]),
    ],
    swiftLanguageModes: [.v6]
)
