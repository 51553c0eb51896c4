import Foundation
import Kafka
import KafkaWire
import TestSupport
import Testing

/// Each failure is a typed error naming what and where, never a crash or a hang.
@Suite(.serialized) struct BadInputTests {
    @Test func anUnreachableBootstrapIsAClearError() async throws {
        let port = TansuBroker.freePort()
        // A long retry timeout: an error that came only after retrying for it would take two minutes. The bound
        // below is far from both that and from "at once", so that a loaded test machine cannot decide it.
        let client = try KafkaClient(
            KafkaClientConfiguration(
                bootstrap: ["127.0.0.1:\(port)"], connectTimeout: .seconds(2), retryTimeout: .seconds(120)))
        let started = ContinuousClock.now
        await #expect {
            _ = try await client.listTopics()
        } throws: { error in
            "\(error)".contains("no bootstrap broker of 127.0.0.1:\(port) answered")
                && "\(error)".contains("cannot connect") && !"\(error)".contains("gave up after")
        }
        #expect(ContinuousClock.now - started < .seconds(60), "refused at once, not after retrying or a hang")
        #expect(throws: KafkaError.self) { try KafkaClient(KafkaClientConfiguration(bootstrap: ["no-port"])) }
    }

    @Test func brokerErrorsAreTypedWithTheBrokersWords() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await broker.ready()
        let client = try ClientTests.client(broker)
        let producer = KafkaProducer(client: client)
        let record = KafkaProducerRecord(value: [1, 2, 3], timestamp: 0)

        // An unknown topic is not created behind the caller's back.
        await #expect {
            _ = try await producer.send([record], to: "no-such-topic")
        } throws: { error in
            (error as? KafkaError)?.code?.name == "UNKNOWN_TOPIC_OR_PARTITION" && "\(error)".contains("no-such-topic")
        }
        #expect(!(try await client.listTopics()).contains("no-such-topic"))

        // A record larger than a batch may be is refused before it is sent.
        try await client.createTopic("small", partitions: 1)
        let big = KafkaProducerRecord(value: [UInt8](repeating: 7, count: 2 << 20), timestamp: 0)
        await #expect {
            _ = try await producer.send([big], to: "small")
        } throws: { error in
            (error as? KafkaError)?.code?.name == "MESSAGE_TOO_LARGE" && "\(error)".contains("record 0 for 'small'")
        }

        // Creating a topic twice: the broker's own error.
        await #expect {
            try await client.createTopic("small", partitions: 1)
        } throws: { error in
            (error as? KafkaError)?.code?.name == "TOPIC_ALREADY_EXISTS"
                && "\(error)".contains("creating topic 'small'")
        }
        try await client.createTopic("small", partitions: 1, ifNotExists: true)

        // A partition that does not exist.
        await #expect {
            _ = try await producer.send([KafkaProducerRecord(value: [1], timestamp: 0, partition: 5)], to: "small")
        } throws: { error in
            "\(error)".contains("topic 'small' has no partition 5 (it has 1)")
        }

        // Deleting a topic that does not exist.
        await #expect {
            try await client.deleteTopic("never-made")
        } throws: { error in
            (error as? KafkaError)?.code?.name == "UNKNOWN_TOPIC_OR_PARTITION" && "\(error)".contains("'never-made'")
        }
        // Consuming a topic that does not exist.
        let lost = KafkaConsumer(client: client, configuration: .init(group: nil, topics: ["missing"]))
        await #expect {
            _ = try await lost.poll(timeout: .seconds(1))
        } throws: { error in
            (error as? KafkaError)?.code?.name == "UNKNOWN_TOPIC_OR_PARTITION" && "\(error)".contains("missing")
        }
        await client.close()
    }

    /// The test broker cannot authenticate (Tansu 0.6 answers every SaslHandshake UNSUPPORTED_SASL_MECHANISM): the
    /// refusal surfaces typed, with the mechanism and the broker's list. The SCRAM exchange itself is checked
    /// against the RFC vectors (SCRAMTests).
    @Test func aSASLRefusalIsTyped() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await broker.ready()
        for sasl in [KafkaSecurity.SASL.plain(user: "op", password: "pw"), .scramSHA512(user: "op", password: "pw")] {
            await #expect {
                _ = try await KafkaConnection.connect(
                    host: "127.0.0.1", port: broker.port, security: KafkaSecurity(sasl: sasl))
            } throws: { error in
                (error as? KafkaError)?.code?.name == "UNSUPPORTED_SASL_MECHANISM"
                    && "\(error)".contains("refused SASL \(sasl.mechanism)")
            }
        }
    }
}
