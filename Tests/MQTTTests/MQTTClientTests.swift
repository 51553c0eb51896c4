import Foundation
import MQTT
import MQTTWire
import TestSupport
import Testing

/// The MQTT client against a real broker (Debian's Mosquitto 2.0, started per test on free ports), in both protocol
/// versions.
@Suite struct MQTTClientTests {
    static func options(_ broker: Mosquitto, _ version: MQTTVersion = .v5, id: String = "millstream-test")
        -> MQTTClientOptions
    {
        MQTTClientOptions(host: "127.0.0.1", port: broker.port, version: version, clientID: id)
    }

    /// Reads batches until `count` messages have come (or fails after 30 s).
    /// Acknowledges the first `acknowledging` (all by default) before it stops; stopping closes the connection.
    static func receive(_ count: Int, from c: MQTTConnection, acknowledging: Int = .max) async throws
        -> [MQTTMessage]
    {
        try await withThrowingTaskGroup(of: [MQTTMessage].self) { group in
            group.addTask {
                var got: [MQTTMessage] = []
                for try await batch in c.messages {
                    c.acknowledge(Array(batch.prefix(max(0, acknowledging - got.count))))
                    got += batch
                    if got.count >= count { break }
                }
                return got
            }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                throw MQTTError("timed out waiting for \(count) messages")
            }
            let got = try await group.next()!
            group.cancelAll()
            return got
        }
    }

    @Test(arguments: [MQTTVersion.v311, .v5])
    func everyQoSArrivesInOrder(version: MQTTVersion) async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        let sub = try await MQTTConnection.connect(Self.options(broker, version, id: "sub"))
        let granted = try await sub.subscribe([.init("plant/#", qos: .exactlyOnce)])
        #expect(granted == [.exactlyOnce])
        let pub = try await MQTTConnection.connect(Self.options(broker, version, id: "pub"))
        for i in 0..<300 {
            try await pub.publish(
                "plant/m\(i % 3)", payload: Array("v\(i)".utf8), qos: MQTTQoS(rawValue: UInt8(i % 3))!)
        }
        let got = try await Self.receive(300, from: sub)
        // MQTT orders messages per QoS level on a topic; compare per QoS.
        for qos in [MQTTQoS.atMostOnce, .atLeastOnce, .exactlyOnce] {
            let expected = (0..<300).filter { $0 % 3 == Int(qos.rawValue) }.map { "v\($0)" }
            #expect(got.filter { $0.qos == qos }.map { String(decoding: $0.payload, as: UTF8.self) } == expected)
        }
        #expect(got.first { $0.qos == .atLeastOnce }?.topic == "plant/m1")
        await pub.disconnect()
        await sub.disconnect()
    }

    /// A persistent session: what was not acknowledged before a crash comes again (marked duplicate), what was
    /// acknowledged does not, and what was published while the client was away is waiting for it.
    @Test(arguments: [MQTTVersion.v311, .v5])
    func unacknowledgedMessagesComeAgainAfterACrash(version: MQTTVersion) async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        var o = Self.options(broker, version, id: "durable")
        o.cleanStart = false
        o.sessionExpirySeconds = 600
        let first = try await MQTTConnection.connect(o)
        try await first.subscribe([.init("line/+/telemetry", qos: .atLeastOnce)])
        let pub = try await MQTTConnection.connect(Self.options(broker, version, id: "pub"))
        for i in 0..<10 { try await pub.publish("line/a/telemetry", payload: Array("r\(i)".utf8)) }
        let seen = try await Self.receive(10, from: first, acknowledging: 4)
        #expect(seen.count == 10)
        await first.abort()
        for i in 10..<12 { try await pub.publish("line/a/telemetry", payload: Array("r\(i)".utf8)) }

        let second = try await MQTTConnection.connect(o)
        #expect(second.connAck.sessionPresent)
        let again = try await Self.receive(8, from: second)
        #expect(again.map { String(decoding: $0.payload, as: UTF8.self) } == (4..<12).map { "r\($0)" })
        #expect(again.prefix(6).allSatisfy { $0.duplicate })
        await second.disconnect()
        await pub.disconnect()
    }

    @Test func passwordsAreChecked() async throws {
        let broker = try Mosquitto(users: ["operator": "s3cret"])
        defer { broker.remove() }
        try await broker.ready()
        for version in [MQTTVersion.v311, .v5] {
            var o = Self.options(broker, version)
            o.username = "operator"
            o.password = "wrong"
            let error = await #expect(throws: MQTTError.self) { try await MQTTConnection.connect(o) }
            #expect(error?.message.contains("refused the connection of client millstream-test") == true)
            #expect(error?.message.contains(version == .v5 ? "not authorized" : "not authorized") == true)
            #expect(error?.retriable == false)
            o.password = "s3cret"
            let c = try await MQTTConnection.connect(o)
            #expect(c.isActive)
            await c.disconnect()
        }
    }

    @Test func tlsChecksTheBrokersCertificate() async throws {
        let broker = try Mosquitto(tls: true)
        defer { broker.remove() }
        try await broker.ready()
        var o = Self.options(broker)
        o.port = broker.tlsPort
        o.tls = .init(caFile: broker.directory + "/ca.pem")
        let c = try await MQTTConnection.connect(o)
        try await c.subscribe([.init("secure/#")])
        try await c.publish("secure/x", payload: [1, 2, 3])
        #expect(try await Self.receive(1, from: c).first?.payload == [1, 2, 3])
        await c.disconnect()

        o.tls = .init(caFile: broker.directory + "/other.pem")
        let error = await #expect(throws: MQTTError.self) { try await MQTTConnection.connect(o) }
        #expect(error?.message.contains("mqtts://127.0.0.1:\(broker.tlsPort)") == true)
        o.tls = .init(caFile: broker.directory + "/missing.pem")
        let missing = await #expect(throws: MQTTError.self) { try await MQTTConnection.connect(o) }
        #expect(missing?.message.contains("missing.pem") == true)
    }

    /// The broker goes away mid-session: the messages end with an error naming it, pending publishes fail, and a
    /// new connection after its restart finds the persistent session (subscriptions kept across the restart).
    @Test func aVanishingBrokerEndsTheSessionWithAClearError() async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        var o = Self.options(broker)
        o.cleanStart = false
        o.sessionExpirySeconds = 600
        let c = try await MQTTConnection.connect(o)
        try await c.subscribe([.init("m/#")])
        broker.stop()
        let error = await #expect(throws: (any Error).self) {
            for try await _ in c.messages {}
        }
        #expect((error as? MQTTError)?.message.contains("127.0.0.1:\(broker.port)") == true)
        #expect((error as? MQTTError)?.retriable == true)
        await #expect(throws: MQTTError.self) { try await c.publish("m/x", payload: [1]) }

        try await broker.restart()
        let back = try await MQTTConnection.connect(o)
        #expect(back.connAck.sessionPresent)
        let pub = try await MQTTConnection.connect(Self.options(broker, id: "pub"))
        try await pub.publish("m/after", payload: [7])
        #expect(try await Self.receive(1, from: back).first?.topic == "m/after")
        await back.disconnect()
        await pub.disconnect()
    }

    /// A session with thousands of messages queued floods the connection the moment it is accepted; the consumer
    /// subscribes before it reads. The SUBACK is behind the messages in the socket: reading must go on until it comes.
    @Test func subscribingIntoAFloodDoesNotWaitForever() async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        var o = Self.options(broker, id: "flooded")
        o.cleanStart = false
        o.sessionExpirySeconds = 600
        o.bufferedBatches = 2
        let first = try await MQTTConnection.connect(o)
        try await first.subscribe([.init("queued/#")])
        await first.disconnect()
        let pub = try await MQTTConnection.connect(Self.options(broker, id: "pub"))
        try await pub.publish((0..<3000).map { ("queued/x", Array("q\($0)".utf8)) })
        await pub.disconnect()

        let again = try await MQTTConnection.connect(o)
        try await again.subscribe([.init("queued/#"), .init("other/#")])
        let got = try await Self.receive(3000, from: again)
        #expect(got.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<3000).map { "q\($0)" })
    }

    /// A consumer that reads slowly holds the socket back instead of buffering without bound, and loses nothing.
    @Test func aSlowConsumerLosesNothing() async throws {
        let broker = try Mosquitto()
        defer { broker.remove() }
        try await broker.ready()
        var o = Self.options(broker, id: "slow")
        o.bufferedBatches = 2
        o.receiveMaximum = 50
        let sub = try await MQTTConnection.connect(o)
        try await sub.subscribe([.init("bulk")])
        let pub = try await MQTTConnection.connect(Self.options(broker, id: "pub"))
        let payload = [UInt8](repeating: 42, count: 1000)
        var futures = [any Sendable]()
        for _ in 0..<5000 { futures.append(pub.publishing("bulk", payload: payload)) }
        try await pub.publishing("bulk", payload: Array("last".utf8)).get()
        var got = 0
        var last: [UInt8] = []
        for try await batch in sub.messages {
            got += batch.count
            last = batch.last!.payload
            sub.acknowledge(batch)
            if got % 500 < batch.count { try await Task.sleep(for: .milliseconds(20)) }
            if got >= 5001 { break }
        }
        #expect(got == 5001)
        #expect(last == Array("last".utf8))
        await pub.disconnect()
        await sub.disconnect()
    }
}
