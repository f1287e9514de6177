// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Sightline",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Sightline", targets: ["Sightline"]),
        .executable(name: "sightline", targets: ["sightline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
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
            ]
        ),
        .executableTarget(
            name: "sightline",
            dependencies: [
                "Sightline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Child process for the crash tests (killed with SIGKILL mid-write); not a product.
        .executableTarget(name: "sightline-crash-writer", dependencies: ["Sightline"]),
        .testTarget(name: "SightlineTests", dependencies: ["Sightline", "sightline", "sightline-crash-writer"]),
    ],
    swiftLanguageModes: [.v6]
)
