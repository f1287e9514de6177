// swift-tools-version: 6.0
import PackageDescription

// Coverage-guided fuzz targets for every decoder of untrusted bytes (issue 15). Its own
// package so nothing here reaches the engine's users, and built only by Scripts/fuzz.sh,
// which adds the flags (`-sanitize=fuzzer,address`, `-parse-as-library`, and the
// SIGHTLINE_FUZZING define that zeroes checksums) on the command line: the engine's
// Package.swift stays free of unsafe flags. Depends on the root by path.
let package = Package(
    name: "SightlineFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Sightline", path: ".."),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),  // the root's: keys of the `sealed` target
    ],
    targets: [
        .executableTarget(name: "sightline-fuzz", dependencies: [
            .product(name: "Sightline", package: "Sightline"),
            .product(name: "SightlineWorkload", package: "Sightline"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
