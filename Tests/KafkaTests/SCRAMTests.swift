import Crypto
import Foundation
import Kafka
import Primitives
import TestSupport
import Testing

@Suite struct SCRAMTests {
    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    @Test func hashesAndHMACsMatchTheStandardsVectors() {
        #expect(
            Self.hex(SHA512.hash(Array("abc".utf8)))
                == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        )
        // RFC 4231, test case 1.
        let key = [UInt8](repeating: 0x0b, count: 20)
        #expect(
            Self.hex(SHA256.hmac(key: key, Array("Hi There".utf8)))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(
            Self.hex(SHA512.hmac(key: key, Array("Hi There".utf8)))
                == "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
        )
        // RFC 4231, test case 6: a key longer than the block is hashed first.
        let long = [UInt8](repeating: 0xaa, count: 131)
        let message = Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
        #expect(
            Self.hex(SHA256.hmac(key: long, message))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    /// RFC 7677 section 3: the whole SCRAM-SHA-256 exchange.
    @Test func scramSHA256FollowsRFC7677() throws {
        var client = SCRAMClient<SHA256>(user: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(client.clientFirst() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        #expect(
            try client.clientFinal(serverFirst: serverFirst)
                == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        )
        try client.verify(serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        #expect(throws: KafkaError.self) {
            try client.verify(serverFinal: "v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        }
        #expect(throws: KafkaError.self) { try client.verify(serverFinal: "e=invalid-proof") }
        // A server nonce that does not extend ours is an attack or a bug: refused.
        var other = SCRAMClient<SHA256>(user: "user", password: "pencil", nonce: "abc")
        _ = other.clientFirst()
        #expect(throws: KafkaError.self) {
            try other.clientFinal(serverFirst: "r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        }
    }

    /// SCRAM-SHA-512 has no RFC vector: Python's hashlib and hmac (an independent implementation) compute the
    /// expected proof and server signature for the same exchange.
    @Test func scramSHA512MatchesPythonsHashlib() throws {
        var client = SCRAMClient<SHA512>(
            user: "milling,admin", password: "tool-wear=42", nonce: "fyko+d2lbbFgONRv9qkxdawL")
        #expect(client.clientFirst() == "n,,n=milling=2Cadmin,r=fyko+d2lbbFgONRv9qkxdawL")
        let serverFirst = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
        let final = try client.clientFinal(serverFirst: serverFirst)
        let script = """
            import base64, hashlib, hmac
            salted = hashlib.pbkdf2_hmac("sha512", b"tool-wear=42", base64.b64decode("QSXCR+Q6sek8bf92"), 4096)
            auth = b"n=milling=2Cadmin,r=fyko+d2lbbFgONRv9qkxdawL,\(serverFirst),c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
            ck = hmac.new(salted, b"Client Key", "sha512").digest()
            sig = hmac.new(hashlib.sha512(ck).digest(), auth, "sha512").digest()
            sk = hmac.new(salted, b"Server Key", "sha512").digest()
            print(base64.b64encode(bytes(a ^ b for a, b in zip(ck, sig))).decode())
            print(base64.b64encode(hmac.new(sk, auth, "sha512").digest()).decode())
            """
        let process = Process()
        process.executableURL = TansuBroker.root.appendingPathComponent(".venv/bin/python")
        process.arguments = ["-c", script]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(
            separator: "\n")
        process.waitUntilExit()
        #expect(lines.count == 2)
        #expect(final == "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=\(lines[0])")
        try client.verify(serverFinal: "v=\(lines[1])")
    }
}
