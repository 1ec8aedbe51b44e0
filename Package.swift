// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Vigie",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vigie", targets: ["vigie"]),
        .executable(name: "vigie-server", targets: ["vigie-server"]),
        .executable(name: "vigie-dev", targets: ["vigie-dev"]),
        .executable(name: "vigie-agent", targets: ["vigie-agent"]),
        .executable(name: "vigie-watch", targets: ["vigie-watch"]),
        .executable(name: "vigie-view", targets: ["vigie-view"]),
        .executable(name: "vigie-ui", targets: ["vigie-ui"]),
        .executable(name: "vigie-vnc", targets: ["vigie-vnc"]),
        .executable(name: "vigie-input-hold", targets: ["vigie-input-hold"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
    ],
    targets: [
        // C side: libxcb through pkg-config, libpng behind a setjmp wrapper.
        .systemLibrary(
            name: "CXCB",
            pkgConfig: "xcb xcb-shm",
            providers: [.apt(["libxcb1-dev", "libxcb-shm0-dev"])]
        ),
        // X DAMAGE (what changed on screen) and libjpeg-turbo's TurboJPEG API: only
        // the thumbnailer links them, not VigieScreen (the seat UI helper stays small).
        .systemLibrary(
            name: "CXCBDamage",
            pkgConfig: "xcb-damage",
            providers: [.apt(["libxcb-damage0-dev"])]
        ),
        .systemLibrary(
            name: "CVNCServer",
            pkgConfig: "libvncserver xcb-xtest",
            providers: [.apt(["libvncserver-dev", "libxcb-xtest0-dev"])]
        ),
        .systemLibrary(
            name: "CTurboJPEG",
            pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]
        ),
        // sd-login from libsystemd: the seat's active session (real seats).
        .systemLibrary(
            name: "CSystemdLogin",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "CPNG",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("z")]
        ),

        // Plain values and pure rules.
        .target(name: "VigieModel"),
        .target(
            name: "VigieConfig",
            dependencies: ["VigieModel", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        .target(
            name: "VigiePKI",
            dependencies: [
                "VigieModel",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(
            name: "VigieWire",
            dependencies: [
                "VigieModel",
                "VigiePKI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What long-running processes share (the agent, the server): the drain of
        // a listener's connections and the ServiceGroup that stops on SIGTERM.
        // The console does not link it.
        .target(
            name: "VigieService",
            dependencies: [
                "VigieWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Posters and notice texts from the Mustache templates in Signage/.
        .target(
            name: "VigieSignage",
            dependencies: ["VigieModel", "VigieConfig", .product(name: "Mustache", package: "swift-mustache")]
        ),
        // The processing register: hash-chained seat journal, signed batches,
        // the server's store, verify, checkpoints, exports. No networking.
        .target(
            name: "VigieRegister",
            dependencies: [
                "VigieModel",
                "VigiePKI",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The register's SQLite files (the seat's journal, the server's store): the
        // agent, the server and the tools link it; the console does not.
        .target(
            name: "VigieStore",
            dependencies: [
                "VigieRegister", "VigieModel", "VigiePKI",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // The seat's sessions from logind (sd-login), behind a protocol tests can fake.
        .target(name: "VigieLogin", dependencies: ["CSystemdLogin"]),
        // The seat's lock record on disk (agent and input holder), small-file I/O.
        .target(name: "VigieSeatState", dependencies: ["VigieModel"]),
        // X11 capture and PNG; no Foundation so the seat UI helper stays small.
        .target(name: "VigieScreen", dependencies: ["CXCB", "CPNG"]),
        // Overview thumbnails on the seat: DAMAGE says whether anything was drawn,
        // MIT-SHM capture, scaled on the seat, JPEG by libjpeg-turbo. No Foundation.
        .target(name: "VigieThumbnails", dependencies: ["VigieScreen", "CXCB", "CXCBDamage", "CTurboJPEG"]),
        .target(
            name: "VigieAgent",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieScreen", "VigieThumbnails", "VigieRegister", "VigieStore", "VigieSignage",
                "VigieLogin", "VigieSeatState", "VigieService",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        // The school server: journals from the seats, the register for the head.
        .target(
            name: "VigieServer",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieRegister", "VigieStore", "VigieService",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "VigieController",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire",
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Scale: a line editor for the interactive console, and many simulated
        // seats in one process (real TLS, frames, policy; a synthetic screen).
        .target(name: "VigieTerminal"),
        .target(
            name: "VigieHarness",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieScreen", "VigieThumbnails", "VigieRegister", "VigieStore", "VigieAgent",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Thin executables. What the command-line tools share: exit statuses, failures, output.
        .target(
            name: "VigieCLI",
            dependencies: ["VigieModel", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // What a person's commands share (`vigie`, `vigie-watch`): their options,
        // the config and identity they load, the seats they target, saved pictures.
        .target(
            name: "VigieConsole",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieController", "VigieCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The console: starts on every command, so it links no agent, server or harness
        // (`vigie server|demo|bench|harness` exec the two executables below).
        .executableTarget(
            name: "vigie",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieController", "VigieRegister",
                "VigieTerminal", "VigieCLI", "VigieConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Linking the Swift runtime statically adds -export-dynamic: every
            // symbol of the executable (38,000) goes into its dynamic table. The
            // console needs none of them, and the loader's work on that table was
            // about a fifth of its start-up.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(configuration: .release))]
        ),
        // The live overview (`vigie watch`, handed over by the console): the
        // dashboard's local web server (Hummingbird) stays out of the console.
        .executableTarget(
            name: "vigie-watch",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieController", "VigieCLI", "VigieConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ]
        ),
        // The remote view (`vigie view`, `vigie control`, handed over by the console).
        .executableTarget(
            name: "vigie-view",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieController", "VigieCLI", "VigieConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The school server (`vigie-server run`, its enrolment tokens).
        .executableTarget(
            name: "vigie-server",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieRegister", "VigieStore", "VigieServer", "VigieService",
                "VigieSignage", "VigieCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The developer's tools: the demo school, the benchmarks, the scale harness.
        .executableTarget(
            name: "vigie-dev",
            dependencies: [
                "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieController", "VigieAgent", "VigieScreen",
                "VigieThumbnails", "VigieHarness", "VigieStore", "VigieCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "vigie-agent",
            dependencies: [
                "VigieAgent", "VigieSignage", "VigieLogin", "VigieWire", "VigieService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The seat's on-screen helper (lock window, message window): its own
        // process, no Foundation, so a crash of the agent never unlocks a seat.
        .executableTarget(name: "vigie-ui", dependencies: ["VigieScreen"]),
        .executableTarget(name: "vigie-vnc", dependencies: ["VigieScreen", "VigieThumbnails", "CXCB", "CVNCServer"]),
        // Holds keyboards and pointers (evdev EVIOCGRAB) while the lock record says locked.
        .executableTarget(name: "vigie-input-hold", dependencies: ["VigieSeatState"]),

        // Test and benchmark helper: `append` writes to a seat journal and prints each
        // acknowledged seq (a test kills it with -9 mid-write); `bench` runs RegisterBenchmark.
        .executableTarget(name: "vigie-register-helper", dependencies: ["VigieRegister", "VigieStore"], path: "Tests/Helpers/vigie-register-helper"),

        // Fuzzing (docs/FUZZING.md): the targets, `vigie-fuzz` (libFuzzer under
        // `make fuzz`, a corpus replayer otherwise) and the corpus replay of `make test`.
        .target(
            name: "VigieFuzz",
            dependencies: [
                "VigieModel", "VigieWire", "VigieAgent", "VigieConfig", "VigieRegister", "VigieStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "vigie-fuzz", dependencies: ["VigieFuzz"]),
        .testTarget(name: "VigieFuzzTests", dependencies: ["VigieFuzz"]),

        // Helpers for tests only: Xvfb on a free display, child processes, XWD reading.
        // Helpers of the tests (Xvfb, child processes, XWD): only test targets depend on it.
        .target(name: "VigieTestSupport", path: "Tests/VigieTestSupport"),

        .testTarget(name: "VigieModelTests", dependencies: ["VigieModel"]),
        .testTarget(name: "VigieConfigTests", dependencies: ["VigieConfig"]),
        .testTarget(name: "VigieSignageTests", dependencies: ["VigieSignage", "VigieConfig", "VigieModel", "VigieTestSupport", "vigie"]),
        .testTarget(
            name: "VigiePKITests",
            dependencies: [
                "VigiePKI", "VigieModel", "VigieTestSupport",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(
            name: "VigieRegisterTests",
            dependencies: [
                "VigieRegister", "VigieStore", "VigieModel", "VigiePKI", "VigieTestSupport", "vigie-register-helper",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // Real seats: session following against a fake logind, the real sd-login
        // code, the polkit rules, the unit files and the Debian package.
        .testTarget(name: "VigieSeatTests", dependencies: [
            "VigieAgent", "VigieLogin", "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieRegister", "VigieStore",
            "VigieScreen", "VigieTestSupport", "VigieSeatState", "vigie-agent", "vigie-ui",
        ]),
        .testTarget(name: "VigieWireTests", dependencies: [
            "VigieWire", .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "VigieTerminalTests", dependencies: ["VigieTerminal"]),
        .testTarget(name: "VigieScaleTests", dependencies: [
            "VigieHarness", "VigieController", "VigieModel", "VigiePKI", "VigieWire", "VigieRegister", "VigieStore", "VigieTestSupport",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "VigieScreenTests", dependencies: [
            "VigieScreen", "VigieThumbnails", "CXCB", "CTurboJPEG", "VigieTestSupport", "vigie-ui",
        ]),
        .testTarget(name: "VigieIntegrationTests", dependencies: [
            "CXCB", "VigieModel", "VigieConfig", "VigiePKI", "VigieWire", "VigieController", "VigieAgent", "VigieScreen",
            "VigieTestSupport", "vigie", "vigie-server", "vigie-dev", "vigie-agent", "vigie-ui", "vigie-vnc", "vigie-view", "vigie-register-helper", "VigieRegister", "VigieStore",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ]
)
