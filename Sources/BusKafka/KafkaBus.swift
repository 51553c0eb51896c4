public import Bus
import Kafka
import KafkaWire
import Primitives
import Synchronization

/// The bus on a Kafka cluster. Same semantics as the embedded bus: keys pick partitions with Kafka's murmur2,
/// topics are created on first use (with `partitions=N`, default 8), consumer groups split partitions and commit
/// offsets. Options: `partitions=N`, `acks=all|1|0` (default all), `compression=none|gzip`, `client=ID`,
/// `tls=true` (the system's trusted CAs) or `ca=FILE.pem`, `sasl=plain|scram-sha-256|scram-sha-512&user=U&password=P`.
public final class KafkaBus: MessageBus {
    public let url: BusURL
    let configuration: KafkaClientConfiguration
    let client: KafkaClient
    let producerConfiguration: KafkaProducerConfiguration
    let defaultPartitions: Int32
    let readOnly: Bool
    /// How long a fetch may wait at the broker for data (`fetch-wait=MS`).
    let fetchMaxWait: Duration

    public init(url: BusURL, readOnly: Bool = false) throws {
        guard case .kafka(let bootstrap) = url.kind else {
            throw BusError("\(url) is not a kafka:// URL", kind: .invalidURL)
        }
        let options = try KafkaBusOptions(url)
        self.url = url
        self.configuration = KafkaClientConfiguration(
            bootstrap: bootstrap, clientID: options.clientID, security: try options.security(url))
        self.client = try KafkaClient(configuration)
        self.producerConfiguration = KafkaProducerConfiguration(
            acks: options.acks, idempotent: options.idempotent, compression: options.compression)
        self.defaultPartitions = options.partitions
        self.readOnly = readOnly
        self.fetchMaxWait = .milliseconds(options.fetchWait)
    }

    public func createTopic(_ name: String, partitions: Int) async throws {
        try await mapErrors { try await client.createTopic(name, partitions: Int32(partitions)) }
    }

    public func topicNames() async throws -> [String] {
        try await mapErrors { try await client.listTopics() }
    }

    public func describeTopic(_ name: String) async throws -> TopicDescription {
        let d = try await mapErrors { try await client.describeTopic(name) }
        return TopicDescription(
            name: name,
            partitions: d.partitions.map {
                .init(
                    partition: Int($0.partition), earliestOffset: $0.earliestOffset, latestOffset: $0.latestOffset,
                    sizeBytes: nil)
            })
    }

    public func groupLag(_ group: String, topic: String) async throws -> [PartitionLag] {
        let described = try await describeTopic(topic)
        let earliest = Dictionary(uniqueKeysWithValues: described.partitions.map { ($0.partition, $0.earliestOffset) })
        return try await mapErrors { try await client.groupLag(group, topic: topic) }.map {
            PartitionLag(
                partition: Int($0.partition), committed: $0.committed, earliest: earliest[Int($0.partition)] ?? 0,
                latest: $0.latest)
        }
    }

    /// Creates `topic` with the default partition count if the cluster does not have it.
    func ensureTopic(_ topic: String) async throws {
        do {
            _ = try await client.partitions(of: topic)
        } catch let e as KafkaError where e.code?.code == 3 && !readOnly {
            try await client.createTopic(topic, partitions: defaultPartitions, ifNotExists: true)
            _ = try await client.retrying("waiting for topic '\(topic)'") { [client] in
                try await client.partitions(of: topic, refresh: true)
            }
        }
    }

    public func producer() async throws -> any MessageProducer {
        KafkaBusProducer(bus: self, producer: KafkaProducer(client: client, configuration: producerConfiguration))
    }

    public func consumer(_ options: ConsumerOptions) async throws -> any MessageConsumer {
        guard !options.topics.isEmpty else {
            throw BusError("a consumer needs at least one topic", kind: .invalidRequest)
        }
        for t in options.topics { try await mapErrors { try await ensureTopic(t) } }
        // Its own connections: a fetch waiting at the broker holds up whatever else is queued on its connection.
        let consumer = KafkaConsumer(
            client: try KafkaClient(configuration),
            configuration: KafkaConsumerConfiguration(
                group: options.group, topics: options.topics, start: options.start == .earliest ? .earliest : .latest,
                fetchMaxWait: fetchMaxWait))
        return KafkaBusConsumer(consumer: consumer)
    }

    /// Refreshes the cluster's metadata every 30 s until cancelled (leaders that moved are found before a request
    /// fails on them).
    public func run() async throws {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(30))
            let known = await client.knownTopics()
            if !known.isEmpty && !Task.isCancelled { _ = try? await client.refreshMetadata(topics: known) }
        }
    }

    public func close() async throws { await client.close() }
}

/// Kafka's errors as bus errors, keeping the message (what, where, the broker's code).
func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as KafkaError {
        throw BusError(e.message, kind: e.retriable ? .unavailable : .refused)
    }
}

final class KafkaBusProducer: MessageProducer {
    let bus: KafkaBus
    let producer: KafkaProducer

    init(bus: KafkaBus, producer: KafkaProducer) {
        self.bus = bus
        self.producer = producer
    }

    func send(_ records: [Record], to topic: String) async throws -> [RecordPosition] {
        try await send([(topic, records)])[0]
    }

    func send(_ groups: [(topic: String, records: [Record])]) async throws -> [[RecordPosition]] {
        try await mapErrors {
            for g in groups { try await bus.ensureTopic(g.topic) }
            let positions = try await producer.send(
                groups.map { g in
                    (
                        g.topic,
                        g.records.map {
                            KafkaProducerRecord(
                                key: $0.key, value: $0.value, headers: $0.headers.map { ($0.name, $0.value) },
                                timestamp: $0.timestamp, partition: $0.partition.map { Int32($0) })
                        }
                    )
                })
            return positions.map { $0.map { RecordPosition(partition: Int($0.partition), offset: $0.offset) } }
        }
    }

    /// Every `send` returns once the cluster acknowledged (acks=all by default): nothing is left to flush.
    func flush() async throws {}
}

final class KafkaBusConsumer: MessageConsumer {
    let consumer: KafkaConsumer

    init(consumer: KafkaConsumer) { self.consumer = consumer }

    func poll(maxRecords: Int, timeout: Duration) async throws -> [ConsumedRecord] {
        try await mapErrors {
            try await consumer.poll(maxRecords: maxRecords, timeout: timeout).map {
                ConsumedRecord(
                    topic: $0.topic, partition: Int($0.partition), offset: $0.offset, timestamp: $0.timestamp,
                    key: $0.key, value: $0.value ?? [],
                    headers: $0.headers.map { RecordHeader(name: $0.name, value: $0.value ?? []) })
            }
        }
    }

    func commit(_ offsets: [TopicPartition: Int64]) async throws {
        try await mapErrors {
            try await consumer.commit(
                Dictionary(
                    uniqueKeysWithValues: offsets.map {
                        (KafkaTopicPartition($0.key.topic, Int32($0.key.partition)), $0.value)
                    }))
        }
    }

    func assignment() async throws -> [TopicPartition] {
        try await mapErrors { try await consumer.assignment() }.map {
            TopicPartition(topic: $0.topic, partition: Int($0.partition))
        }
    }

    func seek(_ partition: TopicPartition, to offset: Int64) async throws {
        try await mapErrors {
            try await consumer.seek(KafkaTopicPartition(partition.topic, Int32(partition.partition)), to: offset)
        }
    }

    func close() async throws {
        try await mapErrors {
            try await consumer.close()
            await consumer.client.close()
        }
    }
}

/// The options of a `kafka://` URL, with their defaults.
struct KafkaBusOptions {
    var partitions: Int32 = 8
    var acks: Int16 = -1
    var compression = RecordBatch.Compression.none
    var clientID = "millstream"
    var user: String?
    var password: String?
    var sasl: String?
    var tls = false
    var idempotent = true
    /// Tansu does not answer a waiting fetch when data arrives (it waits the full time): a short wait keeps latency
    /// low there. On Apache Kafka, which answers at once, fetch-wait=500 polls less when idle.
    var fetchWait = 20
    var caFile: String?

    init(_ url: BusURL) throws {
        func invalid(_ message: String) -> BusError { BusError("bus URL '\(url)': \(message)", kind: .invalidURL) }
        func flag(_ name: String, _ value: String) throws -> Bool {
            guard ["true", "false"].contains(value) else { throw invalid("\(name)=\(value) is not true or false") }
            return value == "true"
        }
        for (name, value) in url.options {
            switch name {
            case "partitions":
                guard let n = Int32(value), (1...10_000).contains(n) else {
                    throw invalid("partitions=\(value) is not a number from 1 to 10000")
                }
                partitions = n
            case "acks":
                guard let a = ["all": -1, "-1": -1, "1": 1, "0": 0][value] else {
                    throw invalid("acks=\(value) is not all, 1 or 0")
                }
                acks = Int16(a)
            case "compression":
                guard let c = ["none": RecordBatch.Compression.none, "gzip": .gzip][value] else {
                    throw invalid("compression=\(value) is not none or gzip")
                }
                compression = c
            case "client": clientID = value
            case "fetch-wait":
                guard let ms = Int(value.hasSuffix("ms") ? String(value.dropLast(2)) : value), (1...60_000).contains(ms)
                else { throw invalid("fetch-wait=\(value) is not a time like 100ms") }
                fetchWait = ms
            case "idempotent": idempotent = try flag(name, value)
            case "sasl": sasl = value.lowercased()
            case "user": user = value
            case "password": password = value
            case "tls": tls = try flag(name, value)
            case "ca": caFile = value
            default:
                throw invalid(
                    "unknown option '\(name)' (known: partitions, acks, idempotent, fetch-wait, compression, client, tls, ca, sasl, user, password)"
                )
            }
        }
    }

    /// TLS (with the system's CAs or `ca=FILE`) and SASL as the options ask.
    func security(_ url: BusURL) throws -> KafkaSecurity {
        var security = KafkaSecurity.plaintext
        if tls || caFile != nil { security.tls = KafkaSecurity.TLS(caFile: caFile) }
        guard let sasl else { return security }
        guard let user, let password else {
            throw BusError("bus URL '\(url)': sasl=\(sasl) needs user=... and password=...", kind: .invalidURL)
        }
        switch sasl {
        case "plain": security.sasl = .plain(user: user, password: password)
        case "scram-sha-256": security.sasl = .scramSHA256(user: user, password: password)
        case "scram-sha-512": security.sasl = .scramSHA512(user: user, password: password)
        default:
            throw BusError(
                "bus URL '\(url)': sasl=\(sasl) is not a known mechanism (plain, scram-sha-256, scram-sha-512)",
                kind: .invalidURL)
        }
        return security
    }
}
