import Foundation
import Kafka
import KafkaWire
import NIOCore
import TestSupport
import Testing

/// Against a real broker: the handshake and metadata.
@Suite(.serialized) struct ConnectionTests {
    @Test func handshakeAndMetadataAgainstTansu() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        try await broker.ready()
        let (versions, metadata) = try await KafkaConnection.withConnection(host: "127.0.0.1", port: broker.port) { c in
            let v = try await c.version(of: .metadata, supported: 9...12)
            var body = ByteBuffer()
            MetadataRequest(topics: nil).write(to: &body, version: v)
            var response = try await c.send(.metadata, version: v, body: body)
            return (await c.versions, try MetadataResponse.read(from: &response, version: v))
        }
        for key in [ApiKey.produce, .fetch, .metadata, .joinGroup, .offsetCommit] {
            #expect(versions.apiKeys.contains { $0.apiKey == key.rawValue }, "broker lacks \(key)")
        }
        #expect(metadata.brokers.count == 1)
        #expect(metadata.brokers.first?.host == "127.0.0.1" && metadata.brokers.first?.port == Int32(broker.port))
    }

    @Test func anUnreachableBrokerIsAClearError() async throws {
        let port = TansuBroker.freePort()  // nobody listens here
        await #expect {
            try await KafkaConnection.withConnection(host: "127.0.0.1", port: port, timeout: .seconds(2)) { _ in true }
        } throws: { error in
            "\(error)".hasPrefix("cannot connect to Kafka broker 127.0.0.1:\(port)")
        }
    }
}
