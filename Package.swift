// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "Millstream",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "millstream", targets: ["millstream"]),
        .executable(name: "millstream-bench", targets: ["MillstreamBench"]),
        .library(name: "EventLog", targets: ["EventLog"]),
        .library(name: "Bus", targets: ["Bus"]),
        .library(name: "Plant", targets: ["Plant"]),
        .library(name: "Learn", targets: ["Learn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // Hardware CRC32C (SSE4.2) with a portable fallback; shared by the event log and, later, Kafka's record batches.
        .target(name: "CRC32C"),
        .target(name: "Primitives", swiftSettings: strict),
        .target(
            name: "Kafka",
            dependencies: [
                "KafkaWire", "Primitives", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .target(name: "Tabular", swiftSettings: strict),
        // Kafka protocol values and codecs; no I/O.
        .target(
            name: "KafkaWire",
            dependencies: ["CRC32C", "CKafkaCodecs", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        // zlib, LZ4, Zstandard and Snappy from Debian (-dev packages installed by scripts/bootstrap).
        .systemLibrary(name: "CKafkaCodecs"),
        // OpenBLAS (Debian libopenblas-dev) for GEMM.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // ONNX message types, generated once from onnx.proto by scripts/generate-onnx-proto and committed.
        .target(
            name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["README.md"]),
        .target(name: "Learn", dependencies: ["CBLAS", "Primitives", "ONNXProto"], swiftSettings: strict),
        .target(name: "Registry", dependencies: ["Learn"], swiftSettings: strict),
        .target(name: "EventLog", dependencies: ["CRC32C"], swiftSettings: strict),
        .target(
            name: "Plant",
            dependencies: ["Tabular", "Primitives", "Analytics", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(name: "Bus", dependencies: ["EventLog", "Kafka", "KafkaWire"], swiftSettings: strict),
        .target(name: "Analytics", swiftSettings: strict),
        .target(
            name: "Pipeline",
            dependencies: [
                "Bus", "Plant", "Analytics", "Learn", "Registry", "EventLog", "Optimizer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Setpoint recommendations (gradient and derivative-free solvers over a risk model) and the closed-loop
        // evaluation on the simulator.
        .target(name: "Optimizer", dependencies: ["Learn", "Plant", "Primitives"], swiftSettings: strict),
        // The HTTP edge: plant API, TensorFlow Serving's predict API, dashboard, /metrics, tokens and roles.
        .target(
            name: "Server",
            dependencies: [
                "Bus", "Plant", "Analytics", "Learn", "Registry", "Primitives",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "millstream",
            dependencies: [
                "Bus", "Plant", "EventLog", "Tabular", "Learn", "Registry", "Primitives", "Pipeline", "Analytics",
                "Server",
                "Optimizer",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "MillstreamBench",
            dependencies: [
                "EventLog", "Bus", "Plant", "Learn", "Primitives", "Pipeline", "Registry", "Tabular", "Kafka",
                "TestSupport", "Server", "Optimizer", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/MillstreamBench",
            swiftSettings: strict
        ),
        .testTarget(name: "TabularTests", dependencies: ["Tabular"], swiftSettings: strict),
        .testTarget(name: "EventLogTests", dependencies: ["EventLog", "CRC32C"], swiftSettings: strict),
        .testTarget(name: "PlantTests", dependencies: ["Plant", "Primitives"], swiftSettings: strict),
        .testTarget(
            name: "LearnTests", dependencies: ["Learn", "Primitives", "Tabular", "ONNXProto"],
            exclude: ["Fixtures"],  // read by path: the ONNX files, TensorFlow's outputs and the script that made them
            swiftSettings: strict),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "Learn"], swiftSettings: strict),
        .testTarget(name: "BusTests", dependencies: ["Bus", "EventLog", "KafkaWire"], swiftSettings: strict),
        .testTarget(name: "AnalyticsTests", dependencies: ["Analytics"], swiftSettings: strict),
        .testTarget(
            name: "OptimizerTests", dependencies: ["Optimizer", "Learn", "Plant", "Primitives"], swiftSettings: strict),
        // Real peers for the tests: a Tansu broker from the project venv on a free loopback port.
        .target(name: "TestSupport", dependencies: ["Kafka"], swiftSettings: strict),
        .testTarget(
            name: "KafkaTests",
            dependencies: [
                "Kafka", "KafkaWire", "TestSupport", "Primitives", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Peer"],  // confluent-kafka, the second client of the interop tests (run from .venv)
            swiftSettings: strict),
        .testTarget(
            name: "KafkaWireTests", dependencies: ["KafkaWire", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "Bus", "Registry", "Learn", "Plant", "Primitives",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "millstream", "EventLog", "Plant", "Learn", "CRC32C", "Kafka", "TestSupport",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict),
    ]
)
