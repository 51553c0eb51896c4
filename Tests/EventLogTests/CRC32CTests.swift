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

    /// Long buffers go three blocks of 4,096 bytes at a time, on three chains combined: the same CRC as the portable
    /// loop at every length around the chunks' edges, from any start (aligned or not) and any CRC to continue from.
    @Test func longBuffersInThreeChainsAsThePortableLoop() {
        var rng = SystemRandomNumberGenerator()
        let chunk = 3 * 4096
        let data = (0..<(5 * chunk + 64)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var lengths = [
            chunk - 8, chunk - 1, chunk, chunk + 1, chunk + 7, chunk + 8, 2 * chunk, 2 * chunk + 13, 4 * chunk + 4095,
        ]
        lengths += (0..<20).map { _ in Int.random(in: chunk..<(5 * chunk), using: &rng) }
        data.withUnsafeBytes { raw in
            for length in lengths {
                for start in [0, 1, 3, 8] {
                    let from = UInt32.random(in: 0...UInt32.max, using: &rng)
                    let fast = millstream_crc32c(from, raw.baseAddress! + start, length)
                    let portable = millstream_crc32c_portable(from, raw.baseAddress! + start, length)
                    #expect(fast == portable, "length \(length) from byte \(start)")
                }
            }
        }
        // Zeros and ones over several chunks, where a wrong shift of one chain would still be caught.
        for byte: UInt8 in [0, 0xFF] {
            let same = [UInt8](repeating: byte, count: 4 * chunk + 5)
            #expect(millstream_crc32c(0, same, same.count) == millstream_crc32c_portable(0, same, same.count))
        }
    }
}
