// swift-tools-version:6.0
import PackageDescription
// The yardstick of docs/FIGURES.md ("A thin console, measured"): a console that links
// only what a console cannot do without (arguments, TLS with client certificates,
// certificate checks, the TOML config, named time zones, which need Foundation's ICU).
//   cd scripts/startup-thin && swift build -c release --static-swift-stdlib
//   ../startup-cpu.py 100 .build/release/thin --help
let package = Package(
    name: "thin",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        .executableTarget(name: "thin", dependencies: [
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ], linkerSettings: [.unsafeFlags(["-Xlinker", "--no-export-dynamic"])]),
    ]
)
