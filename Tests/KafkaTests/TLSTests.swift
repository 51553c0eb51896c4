import Foundation
import Kafka
import TestSupport
import Testing

/// TLS through a real TLS terminator (Debian's stunnel4) in front of the broker, which advertises stunnel's port.
@Suite(.serialized) struct TLSTests {
    @Test func produceAndConsumeOverTLS() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TestCertificates.make(in: dir)

        let tlsPort = TansuBroker.freePort()
        let broker = try TansuBroker(advertisedPort: tlsPort)
        defer { broker.stop() }
        try await broker.ready()
        try """
        foreground = yes
        pid =
        [kafka]
        accept = 127.0.0.1:\(tlsPort)
        connect = 127.0.0.1:\(broker.port)
        cert = \(dir)/server.pem
        key = \(dir)/server.key
        """.write(toFile: dir + "/stunnel.conf", atomically: true, encoding: .utf8)
        let stunnel = Process()
        stunnel.executableURL = URL(fileURLWithPath: "/usr/bin/stunnel4")
        stunnel.arguments = [dir + "/stunnel.conf"]
        stunnel.standardOutput = FileHandle.nullDevice
        stunnel.standardError = FileHandle.nullDevice
        try stunnel.run()
        defer {
            kill(stunnel.processIdentifier, SIGKILL)
            stunnel.waitUntilExit()
        }

        let secure = KafkaClientConfiguration(
            bootstrap: ["127.0.0.1:\(tlsPort)"], connectTimeout: .seconds(5),
            security: KafkaSecurity(tls: .init(caFile: dir + "/ca.pem")),
            retryTimeout: .seconds(10))
        let client = try KafkaClient(secure)
        // stunnel may take a moment to listen.
        try await client.retrying("creating a topic over TLS") {
            try await client.createTopic("secure", partitions: 2, ifNotExists: true)
        }
        let producer = KafkaProducer(client: client)
        let sent = try await producer.send(
            (0..<1000).map {
                KafkaProducerRecord(key: Array("m\($0 % 7)".utf8), value: Array("reading \($0)".utf8), timestamp: 0)
            },
            to: "secure")
        #expect(sent.count == 1000)
        let consumer = KafkaConsumer(client: client, configuration: .init(group: nil, topics: ["secure"]))
        var values = Set<String>()
        let deadline = ContinuousClock.now + .seconds(20)
        while values.count < 1000 && ContinuousClock.now < deadline {
            for r in try await consumer.poll(timeout: .seconds(1)) {
                values.insert(String(decoding: r.value!, as: UTF8.self))
            }
        }
        #expect(values.count == 1000)
        await client.close()

        // A CA that did not sign the broker's certificate: refused, saying why.
        let wrong = try KafkaClient(
            KafkaClientConfiguration(
                bootstrap: ["127.0.0.1:\(tlsPort)"], connectTimeout: .seconds(5),
                security: KafkaSecurity(tls: .init(caFile: dir + "/other.pem"))))
        await #expect {
            _ = try await wrong.listTopics()
        } throws: { error in
            let text = "\(error)".lowercased()
            return text.contains("127.0.0.1:\(tlsPort)") && (text.contains("certificate") || text.contains("handshake"))
        }
        // Plaintext to a TLS port is an error too, not a hang.
        let plain = try KafkaClient(
            KafkaClientConfiguration(
                bootstrap: ["127.0.0.1:\(tlsPort)"], connectTimeout: .seconds(3), requestTimeout: .seconds(3)))
        await #expect(throws: (any Error).self) { _ = try await plain.listTopics() }
    }
}
