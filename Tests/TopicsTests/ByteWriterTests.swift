import Testing

@testable import Topics

/// The writer's word-at-a-time copy of a few bytes: every length up to several words, at every alignment, copies
/// exactly the bytes given and touches nothing on either side.
@Suite struct ByteWriterTests {
    @Test func smallCopiesCopyExactlyTheBytesGiven() {
        let source = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
        let target = UnsafeMutablePointer<UInt8>.allocate(capacity: 96)
        defer {
            source.deallocate()
            target.deallocate()
        }
        for k in 0..<64 { source[k] = UInt8(k + 1) }
        for offset in 0..<8 {
            for n in 0...40 {
                target.initialize(repeating: 0xEE, count: 96)
                ByteWriter.copySmall(source + offset, to: target + 16 + offset, count: n)
                let copied = (0..<n).allSatisfy { target[16 + offset + $0] == source[offset + $0] }
                let before = (0..<(16 + offset)).allSatisfy { target[$0] == 0xEE }
                let after = ((16 + offset + n)..<96).allSatisfy { target[$0] == 0xEE }
                #expect(copied && before && after, "\(n) bytes at offset \(offset)")
            }
        }
    }
}
