import Foundation
import OPCUA
import OPCUAWire
import TestSupport
import Testing

/// The OPC UA client against asyncua 2.1.0's server (Tests/ConnectorsTests/Peer/opcua_server.py).
@Suite struct OPCUAClientTests {
    static func node(_ machine: String, _ name: String) -> OPCUANodeID { .string("\(machine)/\(name)", ns: 2) }

    @Test func browseReadWriteAndSubscribeWithoutSecurity() async throws {
        let server = try await OPCUAServerPeer(root: TansuBroker.root)
        defer { server.stop() }
        let c = try await OPCUAConnection.connect(try OPCUAClientOptions(endpointURL: server.endpoint))
        // Browse Objects (i=85) down to the machine's variables.
        let objects = try await c.browse(.numeric(85))
        let plant = try #require(objects.first { $0.browseName.name == "Plant" })
        let machines = try await c.browse(plant.nodeID.nodeID)
        #expect(machines.map { $0.browseName.name } == ["m01"])
        let variables = try await c.browse(machines[0].nodeID.nodeID).compactMap(\.browseName.name)
        #expect(variables.contains("SpindleSpeed") && variables.contains("SpeedSetpoint") && variables.count == 11)

        let values = try await c.read([
            Self.node("m01", "SpindleSpeed"), Self.node("m01", "State"), Self.node("m01", "Nope"),
        ])
        #expect(values[0].value == .float(1500) && values[1].value == .string("running"))
        #expect(values[2].statusCode.name == "BadNodeIdUnknown")

        // A subscription: the initial values, then each change with its source time.
        let sub = try await c.createSubscription(publishingInterval: .milliseconds(20))
        let items = try await c.monitor(
            subscription: sub.subscriptionID,
            [(Self.node("m01", "Torque"), 1), (Self.node("m01", "ToolWear"), 2), (Self.node("m01", "Missing"), 3)],
            samplingInterval: .zero)
        #expect(items[0].status.isGood && items[1].status.isGood)
        #expect(items[2].status.name == "BadNodeIdUnknown")
        var seen: [UInt32: [OPCUAVariant]] = [:]
        var acks: [OPCUASubscriptionAcknowledgement] = []
        var sent = false
        let start = ContinuousClock.now
        while seen[1]?.last != .double(41.5) && ContinuousClock.now - start < .seconds(20) {
            let r = try await c.publish(acknowledging: acks, wait: .seconds(10))
            acks = [
                OPCUASubscriptionAcknowledgement(subscriptionID: r.subscriptionID, sequenceNumber: r.sequenceNumber)
            ]
            for n in try r.dataChanges() {
                seen[n.clientHandle, default: []].append(n.value.value ?? .null)
                #expect(n.value.sourceTimestamp != nil)
            }
            if !sent && seen[1] != nil {
                sent = true
                try await server.send(#"{"do": "set", "machine": "m01", "name": "Torque", "value": 41.5}"#)
            }
        }
        #expect(seen[1] == [.double(40), .double(41.5)])
        #expect(seen[2] == [.int32(0)])

        // A write of the node's own type, and one of the wrong type (refused by the server).
        #expect(try await c.write([(Self.node("m01", "SpeedSetpoint"), .float(1550))]) == [.good])
        let wrong = try await c.write([(Self.node("m01", "SpeedSetpoint"), .string("fast"))])
        #expect(wrong.first?.name == "BadTypeMismatch")
        #expect(try await c.read([Self.node("m01", "SpeedSetpoint")]).first?.value == .float(1550))
        try await c.deleteSubscription(sub.subscriptionID)
        await c.close()
    }

    @Test func signAndEncryptWithAUserAndPassword() async throws {
        let server = try await OPCUAServerPeer(secure: true, users: ["operator": "s3cret"], root: TansuBroker.root)
        defer { server.stop() }
        let certificate = OPCUAClientCertificate(
            certificatePEM: try server.file("client_cert.pem"), privateKeyPEM: try server.file("client_key.pem"),
            trustedServerCertificatePEM: try server.file("server_cert.pem"))
        let options = try OPCUAClientOptions(
            endpointURL: server.endpoint, security: .basic256Sha256(certificate),
            identity: .userName("operator", password: "s3cret"))
        // A short channel lifetime: the token is renewed (new nonces, new keys) while the session goes on.
        var shortLived = options
        shortLived.channelLifetime = .seconds(2)
        let c = try await OPCUAConnection.connect(shortLived)
        for _ in 0..<8 {
            #expect(try await c.read([Self.node("m01", "AirTemperature")]).first?.value == .double(300.1))
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(c.renewals >= 2)
        // Messages larger than one chunk go as several, each signed and encrypted.
        let many = Array(repeating: Self.node("m01", "State"), count: 3000)
        let values = try await c.read(many)
        #expect(values.count == 3000 && values.allSatisfy { $0.value == .string("running") })
        // A subscription's notifications come signed and encrypted too.
        let sub = try await c.createSubscription(publishingInterval: .milliseconds(20))
        _ = try await c.monitor(
            subscription: sub.subscriptionID, [(Self.node("m01", "Torque"), 7)], samplingInterval: .zero)
        var first: [OPCUAMonitoredItemNotification] = []
        while first.isEmpty { first = try await c.publish(acknowledging: [], wait: .seconds(10)).dataChanges() }
        #expect(first.first?.clientHandle == 7 && first.first?.value.value == .double(40))
        await c.close()

        // A wrong password, no security where the server demands it, and a server certificate other than the
        // trusted one: each a clear error.
        var wrong = options
        wrong.identity = .userName("operator", password: "guess")
        await #expect {
            try await OPCUAConnection.connect(wrong)
        } throws: { "\($0)".contains("refused ActivateSession") && "\($0)".contains("Bad") }
        await #expect {
            try await OPCUAConnection.connect(try OPCUAClientOptions(endpointURL: server.endpoint))
        } throws: {
            "\($0)".contains("offers no endpoint with security None (it offers Basic256Sha256 SignAndEncrypt)")
        }
        var untrusted = certificate
        untrusted.trustedServerCertificatePEM = try server.file("client_cert.pem")
        var mistrust = options
        mistrust.security = .basic256Sha256(untrusted)
        await #expect {
            try await OPCUAConnection.connect(mistrust)
        } throws: { "\($0)".contains("that is not the trusted one") }
        // With no trusted certificate configured, the endpoint's is taken (and its thumbprint told).
        var firstUse = certificate
        firstUse.trustedServerCertificatePEM = nil
        var tofu = options
        tofu.security = .basic256Sha256(firstUse)
        let again = try await OPCUAConnection.connect(tofu)
        #expect(again.serverCertificateThumbprint?.count == 40)
        await again.close()
    }

    @Test func aServerThatVanishesFailsWhatWaitsWithAClearError() async throws {
        let server = try await OPCUAServerPeer(root: TansuBroker.root)
        defer { server.stop() }
        let c = try await OPCUAConnection.connect(try OPCUAClientOptions(endpointURL: server.endpoint))
        let sub = try await c.createSubscription(publishingInterval: .milliseconds(50))
        _ = try await c.monitor(
            subscription: sub.subscriptionID, [(Self.node("m01", "Torque"), 1)], samplingInterval: .zero)
        _ = try await c.publish(acknowledging: [], wait: .seconds(10))
        server.stop()
        let error = await #expect(throws: OPCUAError.self) {
            for _ in 0..<100 { _ = try await c.publish(acknowledging: [], wait: .seconds(10)) }
        }
        #expect(error?.retriable == true)
        #expect(error?.message.contains(server.endpoint) == true)
        await #expect(throws: OPCUAError.self) {
            try await OPCUAConnection.connect(try OPCUAClientOptions(endpointURL: server.endpoint))
        }
        #expect(throws: OPCUAError.self) { try OPCUAClientOptions(endpointURL: "http://plc:4840") }
    }
}
