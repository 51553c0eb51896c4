public import KafkaWire
import NIOCore

/// Settings shared by the producer, the consumer and the admin.
public struct KafkaClientConfiguration: Sendable {
    /// `host:port` of one or more brokers to learn the cluster from.
    public var bootstrap: [String]
    public var clientID: String
    public var connectTimeout: Duration
    public var requestTimeout: Duration
    public var security: KafkaSecurity
    /// How long to keep retrying retriable failures (lost connections, leader moves) before giving up.
    public var retryTimeout: Duration
    public var retryBackoff: Duration

    public init(
        bootstrap: [String], clientID: String = "millstream", connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(30), security: KafkaSecurity = .plaintext,
        retryTimeout: Duration = .seconds(60), retryBackoff: Duration = .milliseconds(100)
    ) {
        self.bootstrap = bootstrap
        self.clientID = clientID
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.security = security
        self.retryTimeout = retryTimeout
        self.retryBackoff = retryBackoff
    }
}

/// A partition of a topic, with its leader.
public struct PartitionInfo: Sendable, Equatable {
    public var partition: Int32
    public var leader: Int32
    public var leaderEpoch: Int32
}

/// The cluster as the client sees it: brokers, topics' partitions and leaders (from Metadata), and one connection per
/// broker, opened on first use and dropped when it fails (the next request reconnects). Shared by producers,
/// consumers and the admin of one client.
public actor KafkaClient {
    public nonisolated let configuration: KafkaClientConfiguration
    private var brokers: [Int32: (host: String, port: Int)] = [:]
    private var topics: [String: [PartitionInfo]] = [:]
    private var connections: [Int32: KafkaConnection] = [:]
    private var bootstrapConnection: KafkaConnection?
    private var closed = false

    public init(_ configuration: KafkaClientConfiguration) throws {
        guard !configuration.bootstrap.isEmpty else { throw KafkaError("no bootstrap broker given") }
        for b in configuration.bootstrap {
            guard Self.split(b) != nil else { throw KafkaError("bootstrap broker '\(b)' is not HOST:PORT") }
        }
        self.configuration = configuration
    }

    static func split(_ address: String) -> (String, Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port), colon != address.startIndex
        else { return nil }
        return (String(address[..<colon]), port)
    }

    private func open(_ host: String, _ port: Int) async throws -> KafkaConnection {
        try await KafkaConnection.connect(
            host: host, port: port, clientID: configuration.clientID, timeout: configuration.connectTimeout,
            requestTimeout: configuration.requestTimeout, security: configuration.security)
    }

    /// A connection to any broker: a known one, else the bootstrap list in order.
    public func anyConnection() async throws -> KafkaConnection {
        if let c = connections.values.first(where: \.isActive) { return c }
        if let c = bootstrapConnection, c.isActive { return c }
        var failures: [String] = []
        for address in configuration.bootstrap {
            let (host, port) = Self.split(address)!
            do {
                let c = try await open(host, port)
                if let old = bootstrapConnection { await old.close() }
                bootstrapConnection = c
                return c
            } catch {
                failures.append("\(error)")
            }
        }
        throw KafkaError(
            "no bootstrap broker of \(configuration.bootstrap.joined(separator: ",")) answered: "
                + failures.joined(separator: "; "), retriable: true)
    }

    /// The connection to broker `node` (opened if needed).
    public func connection(to node: Int32) async throws -> KafkaConnection {
        if let c = connections[node], c.isActive { return c }
        if brokers[node] == nil { try await refreshMetadata(topics: []) }
        guard let (host, port) = brokers[node] else {
            throw KafkaError("broker \(node) is not in the cluster's metadata", retriable: true)
        }
        let c = try await open(host, port)
        if let existing = connections[node], existing.isActive {  // another caller connected meanwhile
            await c.close()
            return existing
        }
        if let old = connections[node] { await old.close() }
        connections[node] = c
        return c
    }

    /// A connection to `host:port` as a broker's (the group coordinator's answer names one).
    public func connection(node: Int32, host: String, port: Int) async throws -> KafkaConnection {
        if brokers[node] == nil { brokers[node] = (host, port) }
        return try await connection(to: node)
    }

    /// Forgets a connection that failed; the next request opens a new one.
    public func invalidate(_ node: Int32) async {
        if let c = connections.removeValue(forKey: node) { await c.close() }
    }

    /// Sends a request to any broker, with the highest version both sides support.
    public func sendToAny<R: KafkaRequest>(_ request: R) async throws -> (ByteBuffer, Int16) {
        let c = try await anyConnection()
        let v = try c.version(of: R.apiKey, supported: R.versions)
        var body = ByteBuffer()
        request.write(to: &body, version: v)
        do {
            return (try await c.send(R.apiKey, version: v, body: body), v)
        } catch let e as KafkaError where e.retriable {
            if bootstrapConnection === c { bootstrapConnection = nil }
            for (node, known) in connections where known === c { connections[node] = nil }
            await c.close()
            throw e
        }
    }

    /// Sends a request to broker `node`.
    public func send<R: KafkaRequest>(to node: Int32, _ request: R, timeout: Duration? = nil) async throws -> (
        ByteBuffer, Int16
    ) {
        let c = try await connection(to: node)
        let v = try c.version(of: R.apiKey, supported: R.versions)
        var body = ByteBuffer()
        request.write(to: &body, version: v)
        do {
            return (try await c.send(R.apiKey, version: v, body: body, timeout: timeout), v)
        } catch let e as KafkaError where e.retriable {
            await invalidate(node)
            throw e
        }
    }

    /// Asks for metadata of `topics` (empty: brokers only; nil: every topic) and updates the cache.
    @discardableResult
    public func refreshMetadata(topics names: [String]?, autoCreate: Bool = false) async throws -> MetadataResponse {
        let (b, v) = try await sendToAny(MetadataRequest(topics: names, allowAutoTopicCreation: autoCreate))
        var buffer = b
        let metadata = try MetadataResponse.read(from: &buffer, version: v)
        for broker in metadata.brokers { brokers[broker.nodeID] = (broker.host, Int(broker.port)) }
        for t in metadata.topics {
            guard let name = t.name else { continue }
            if t.errorCode == 0 {
                topics[name] = t.partitions.map {
                    PartitionInfo(partition: $0.index, leader: $0.leaderID, leaderEpoch: $0.leaderEpoch)
                }.sorted { $0.partition < $1.partition }
            } else {
                topics[name] = nil
            }
        }
        return metadata
    }

    /// The partitions of `topic` (from the cache, else from the cluster). Throws UNKNOWN_TOPIC_OR_PARTITION's error
    /// when the topic does not exist.
    public func partitions(of topic: String, refresh: Bool = false) async throws -> [PartitionInfo] {
        if !refresh, let p = topics[topic] { return p }
        let metadata = try await refreshMetadata(topics: [topic])
        if let p = topics[topic], !p.isEmpty, p.allSatisfy({ $0.leader >= 0 }) { return p }
        let code = metadata.topics.first { $0.name == topic }?.errorCode ?? 3
        if code == 0 {
            throw KafkaError("topic '\(topic)' has partitions without a leader", code: .named(5))
        }
        throw KafkaError.broker(code, "topic '\(topic)'")
    }

    /// Drops cached metadata of `topic` (after NOT_LEADER and the like).
    public func invalidateTopic(_ topic: String) { topics[topic] = nil }

    public func knownTopics() -> [String] { Array(topics.keys) }

    /// Closes every connection.
    public func close() async {
        closed = true
        for c in connections.values { await c.close() }
        connections.removeAll()
        if let c = bootstrapConnection { await c.close() }
        bootstrapConnection = nil
    }

    /// Runs `body` until it succeeds, retrying retriable Kafka errors with backoff until `retryTimeout` passes.
    public nonisolated func retrying<T: Sendable>(
        _ what: String, _ body: @Sendable () async throws -> T
    ) async throws -> T {
        let deadline = ContinuousClock.now + configuration.retryTimeout
        var backoff = configuration.retryBackoff
        while true {
            do {
                return try await body()
            } catch let e as KafkaError where e.retriable && ContinuousClock.now < deadline {
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(1))
            } catch let e as KafkaError where e.retriable {
                throw KafkaError("\(what): gave up after \(configuration.retryTimeout): \(e.message)", code: e.code)
            }
        }
    }
}
