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
        .library(name: "Bus", targets: ["Bus", "BusEmbedded", "BusKafka", "Buses"]),
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
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        // OTLP/HTTP only: the gRPC exporter's stack is not needed (collectors take both).
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        // gRPC predict API (TensorFlow Serving's PredictionService, the Open Inference Protocol).
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.0"),
    ],
    targets: [
        // Hardware CRC32C (SSE4.2) with a portable fallback; shared by the event log and, later, Kafka's record batches.
        .target(name: "CRC32C"),
        // A dense layer for one sample with AVX2 and FMA, chosen at run time (the builds target baseline x86-64).
        .target(name: "CDense"),
        .target(
            name: "Primitives", dependencies: [.product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: strict),
        .target(
            name: "Kafka",
            dependencies: [
                "KafkaWire", "Primitives", "ClientTLS", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .target(name: "Tabular", swiftSettings: strict),
        // Logs for collectors (JSON lines with ECS names, trace and request ids) and OTLP export of traces and logs.
        .target(
            name: "Observability",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ], swiftSettings: strict),
        // A SQLite VFS sealing the historian's pages (the crypto is AtRest's, called back from C).
        .target(name: "CSQLiteSeal", linkerSettings: [.linkedLibrary("sqlite3")]),
        // Encryption at rest: the keyring (AES-256-GCM keys from the environment, rotation) and sealed files.
        .target(
            name: "AtRest", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        // TLS from a client (trust roots, server name, client certificate), shared by the Kafka and MQTT clients.
        .target(
            name: "ClientTLS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ], swiftSettings: strict),
        // Kafka protocol values and codecs; no I/O.
        .target(
            name: "KafkaWire",
            dependencies: ["CRC32C", "CKafkaCodecs", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        // MQTT 3.1.1 and 5.0 control packets and their codecs; no I/O (the connectors' client is apart).
        .target(
            name: "MQTTWire", dependencies: [.product(name: "NIOCore", package: "swift-nio")], swiftSettings: strict),
        // The MQTT client on SwiftNIO: sessions, QoS 0-2, keep-alive, TLS, back-pressure on what it receives.
        .target(
            name: "MQTT",
            dependencies: [
                "MQTTWire", "ClientTLS", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ], swiftSettings: strict),
        // zlib, LZ4, Zstandard and Snappy from Debian (-dev packages installed by scripts/bootstrap).
        .systemLibrary(name: "CKafkaCodecs"),
        // OpenBLAS (Debian libopenblas-dev) for GEMM.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // jemalloc (Debian libjemalloc-dev), the executables' allocator: see Sources/Allocator.
        .systemLibrary(name: "CJemalloc", pkgConfig: "jemalloc", providers: [.apt(["libjemalloc-dev"])]),
        .target(name: "Allocator", dependencies: ["CJemalloc"], swiftSettings: strict),
        // ONNX message types, generated once from onnx.proto by scripts/generate-proto onnx and committed.
        .target(
            name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["README.md"]),
        // Sparkplug B payload types, generated once from our sparkplug_b.proto by scripts/generate-proto and committed.
        .target(
            name: "SparkplugProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["README.md", "sparkplug_b.proto"]),
        // TensorFlow Serving's and the Open Inference Protocol's gRPC messages, generated once from our .proto files by
        // scripts/generate-proto and committed.
        .target(
            name: "ServingProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["README.md", "tensorflow_serving.proto", "inference.proto"]),
        // Sparkplug B without I/O: the topic namespace, payloads, and the host application's view of edge nodes
        // (births, deaths, aliases, sequence numbers, rebirth requests).
        .target(
            name: "Sparkplug",
            dependencies: ["SparkplugProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strict),
        .target(
            name: "Learn",
            dependencies: [
                "CBLAS", "CDense", "Primitives", "ONNXProto", .product(name: "RealModule", package: "swift-numerics"),
            ], swiftSettings: strict),
        .target(name: "Registry", dependencies: ["Learn", "AtRest"], swiftSettings: strict),
        // MLflow's tracking server over its REST API: runs, metrics, datasets, artifacts, registered model versions.
        .target(name: "Tracking", swiftSettings: strict),
        .target(name: "EventLog", dependencies: ["CRC32C", "AtRest", "Primitives"], swiftSettings: strict),
        .target(
            name: "Plant",
            dependencies: [
                "Tabular", "Primitives", "Analytics", .product(name: "Yams", package: "Yams"),
                .product(name: "RealModule", package: "swift-numerics"),
            ],
            swiftSettings: strict
        ),
        // The bus protocol and its types; implementations in modules of their own, opened by URL in Buses.
        .target(name: "Bus", dependencies: ["Primitives"], swiftSettings: strict),
        .target(
            name: "BusEmbedded",
            dependencies: [
                "Bus", "EventLog", "AtRest", "Primitives", .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .target(name: "BusKafka", dependencies: ["Bus", "Kafka", "KafkaWire"], swiftSettings: strict),
        .target(name: "Buses", dependencies: ["Bus", "BusEmbedded", "BusKafka"], swiftSettings: strict),
        .target(name: "Analytics", swiftSettings: strict),
        // Every topic's name, key and record type, with the one JSON encoder and strict decoder they all use.
        .target(name: "Topics", dependencies: ["Plant"], swiftSettings: strict),
        .target(
            name: "Pipeline",
            dependencies: [
                "Bus", "Plant", "Analytics", "Learn", "Registry", "Optimizer", "Topics", "Primitives",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Setpoint recommendations: gradient and derivative-free solvers over a risk model, guardrails, explanations.
        .target(
            name: "Optimizer",
            dependencies: [
                "Learn", "Plant", "Primitives", "Topics", .product(name: "RealModule", package: "swift-numerics"),
            ], swiftSettings: strict),
        // The closed-loop evaluation of a policy on the simulator (the optimizer against the plant's baselines) and
        // its SVG trace plot; only `millstream optimize evaluate` and the benchmarks use it.
        .target(
            name: "OptimizerEvaluation", dependencies: ["Optimizer", "Learn", "Plant", "Primitives"],
            swiftSettings: strict),
        // OPC UA's binary encoding, services and transport framing (OPC 10000-4 and -6); no I/O.
        .target(
            name: "OPCUAWire", dependencies: [.product(name: "NIOCore", package: "swift-nio")], swiftSettings: strict),
        // The OPC UA client on SwiftNIO: secure channel (None, Basic256Sha256), sessions, services, subscriptions.
        .target(
            name: "OPCUA",
            dependencies: [
                "OPCUAWire", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ], swiftSettings: strict),
        // Modbus TCP: the MBAP frame and PDUs (no I/O), value layouts, and a client on SwiftNIO.
        .target(
            name: "Modbus",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        // `millstream connect`: machine protocols (MQTT, Sparkplug B, OPC UA, Modbus TCP) mapped to readings on the bus.
        .target(
            name: "Connectors",
            dependencies: [
                "Bus", "Primitives", "Plant", "Topics", "MQTT", "MQTTWire", "ClientTLS", "Modbus", "Sparkplug", "OPCUA",
                "OPCUAWire",
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: strict),
        // The plant's history for long-range queries: readings, predictions, KPIs and alerts from the bus, written
        // exactly once into SQLite (GRDB, embedded) or PostgreSQL (postgres-nio, at scale) with rollups per minute and
        // hour; CSV and JSON export.
        .target(
            name: "Historian",
            dependencies: [
                "Bus", "Primitives", "Plant", "Topics", "Tabular", "AtRest", "CSQLiteSeal",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: strict),
        // Alert notifications: routes by priority, kind, machine and shift to webhooks (JSON, Slack, Teams), with
        // retries, dead letters and escalation of unacknowledged alerts.
        .target(
            name: "Notifications",
            dependencies: [
                "Bus", "Primitives", "Plant", "Topics", "ClientTLS", .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: strict),
        // The HTTP edge: plant API, TensorFlow Serving's predict API, dashboard, /metrics, tokens and roles.
        .target(
            name: "Server",
            dependencies: [
                "Bus", "Plant", "Analytics", "Learn", "Registry", "Primitives", "Topics", "Historian", "AtRest",
                "ServingProto",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            // The dashboard's files, embedded in the binary (one file to deploy); linted and formatted by the tests.
            resources: [
                .embedInCode("Dashboard/Assets/index.html"), .embedInCode("Dashboard/Assets/app.js"),
                .embedInCode("Dashboard/Assets/app.css"), .embedInCode("Dashboard/Assets/login.html"),
                .embedInCode("Dashboard/Assets/login.css"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "millstream",
            dependencies: [
                "Bus", "Buses", "BusEmbedded", "Plant", "EventLog", "Tabular", "Learn", "Registry", "Primitives",
                "Pipeline", "Analytics", "Topics", "Connectors", "MQTT", "OPCUA", "OPCUAWire", "LocalPeers",
                "Server", "Tracking", "Historian", "Notifications", "AtRest", "Observability",
                "Optimizer", "OptimizerEvaluation", "Allocator",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "MillstreamBench",
            dependencies: [
                "EventLog", "Bus", "Buses", "BusEmbedded", "Plant", "Topics", "Learn", "Primitives", "Pipeline",
                "Registry", "Tabular", "Kafka", "MQTT", "MQTTWire", "Connectors", "OPCUA", "OPCUAWire",
                "TestSupport", "Server", "Optimizer", "Historian", "AtRest", "ServingProto", "Observability",
                "Allocator", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/MillstreamBench",
            swiftSettings: strict
        ),
        .testTarget(name: "TabularTests", dependencies: ["Tabular"], swiftSettings: strict),
        .testTarget(
            name: "EventLogTests", dependencies: ["EventLog", "CRC32C", "AtRest", "Primitives"], swiftSettings: strict),
        .testTarget(name: "PlantTests", dependencies: ["Plant", "Primitives"], swiftSettings: strict),
        .testTarget(
            name: "LearnTests", dependencies: ["Learn", "Primitives", "Tabular", "ONNXProto"],
            exclude: ["Fixtures"],  // read by path: the ONNX files, TensorFlow's outputs and the script that made them
            swiftSettings: strict),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "Learn"], swiftSettings: strict),
        .testTarget(
            name: "BusTests", dependencies: ["Bus", "Buses", "BusEmbedded", "EventLog", "Primitives"],
            swiftSettings: strict),
        .testTarget(name: "AnalyticsTests", dependencies: ["Analytics"], swiftSettings: strict),
        .testTarget(name: "TopicsTests", dependencies: ["Topics", "Plant"], swiftSettings: strict),
        .testTarget(
            name: "MQTTWireTests", dependencies: ["MQTTWire", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .testTarget(
            name: "MQTTTests", dependencies: ["MQTT", "MQTTWire", "TestSupport"],
            exclude: ["Peer"],  // paho-mqtt, the second client of the interop tests (run from .venv)
            swiftSettings: strict),
        .testTarget(
            name: "OPCUAWireTests", dependencies: ["OPCUAWire", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict),
        .testTarget(
            name: "OPCUATests", dependencies: ["OPCUA", "OPCUAWire", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SparkplugTests", dependencies: ["Sparkplug", "SparkplugProto"], swiftSettings: strict),
        .testTarget(
            name: "ConnectorsTests",
            dependencies: [
                "Connectors", "MQTT", "Modbus", "Sparkplug", "Plant", "Bus", "Buses", "Topics", "TestSupport",
                "Primitives",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Peer"],  // pymodbus's server, the Modbus device of the tests (run from .venv)
            swiftSettings: strict),
        .testTarget(
            name: "OptimizerTests",
            dependencies: [
                "Optimizer", "OptimizerEvaluation", "Learn", "Plant", "Primitives",
                .product(name: "RealModule", package: "swift-numerics"),
            ], swiftSettings: strict),
        // Real peers for the tests: a Tansu broker from the project venv on a free loopback port.
        .target(name: "TestSupport", dependencies: ["Kafka", "LocalPeers"], swiftSettings: strict),
        // Real peers started on this machine: Mosquitto (for the tests, the benchmarks and `demo --source mqtt`).
        .target(name: "LocalPeers", dependencies: ["MQTT"], swiftSettings: strict),
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
                "Server", "Bus", "BusEmbedded", "Registry", "Learn", "Plant", "Primitives", "Topics", "Historian",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "HistorianTests",
            dependencies: ["Historian", "Bus", "Buses", "BusEmbedded", "Topics", "Plant", "TestSupport", "AtRest"],
            swiftSettings: strict),
        .testTarget(
            name: "NotificationsTests",
            dependencies: [
                "Notifications", "Bus", "Buses", "BusEmbedded", "Topics", "Plant", "LocalPeers", "Primitives",
            ],
            exclude: ["Peer"],  // a webhook receiver (Python's standard library), SMTP servers (aiosmtpd)
            swiftSettings: strict),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "millstream", "EventLog", "Plant", "Learn", "CRC32C", "Kafka", "TestSupport", "AtRest", "Server",
                "Primitives",
                .product(name: "Yams", package: "Yams"),
            ],
            exclude: ["Peer"],  // an OTLP/HTTP receiver (opentelemetry-proto), run from .venv
            swiftSettings: strict),
    ]
)
