// swift-tools-version: 6.0
import PackageDescription

// The reference HTTP service over one Sightline store (issue 30). Its own package so the
// engine's users do not build Hummingbird; depends on the root by path.
let package = Package(
    name: "SightlineServer",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "sightline-server", targets: ["SightlineServer"])],
    dependencies: [
        .package(name: "Sightline", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
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
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [.copy("Resources")]),
        .testTarget(name: "SightlineServerTests", dependencies: ["SightlineServer", .product(name: "JWTKit", package: "jwt-kit")]),
    ],
    swiftLanguageModes: [.v6]
)
