import CRC32C
import Testing

@Suite struct CRC32CTests {
    @Test func checkValue() {
        // The CRC-32C check value (RFC 3720 / iSCSI): "123456789" -> 0xE3069283.
        let bytes = Array("123456789".utf8)
        #expect(millstream_crc32c(0, bytes, bytes.count) == 0xE306_9283)
        #expect(millstream_crc32c_portable(0, bytes, bytes.count) == 0xE306_9283)
    }

    @Test func rfc3720Vectors() {
        // RFC 3720 B.4: 32 bytes of zeros, of 0xFF, and ascending 0...31.
        #expect(millstream_crc32c(0, [UInt8](repeating: 0, count: 32), 32) == 0x8A91_36AA)
        #expect(millstream_crc32c(0, [UInt8](repeating: 0xFF, count: 32), 32) == 0x62A8_AB43)
        #expect(millstream_crc32c(0, (0..<32).map { UInt8($0) }, 32) == 0x46DD_794E)
    }

    @Test func hardwareAndPortableAgreeAndChain() {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 8, 9, 63, 64, 1000, 4099] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let whole = millstream_crc32c(0, data, data.count)
            #expect(whole == millstream_crc32c_portable(0, data, data.count))
            let split = length / 3
            let first = millstream_crc32c(0, data, split)
            let chained = data.withUnsafeBytes { millstream_crc32c(first, $0.baseAddress! + split, length - split) }
            #expect(chained == whole)
        }
    }
}
