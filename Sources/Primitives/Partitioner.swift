/// Kafka's default partitioner for keyed records: murmur2 of the key bytes, made positive, modulo the partition
/// count. Identical to the Java client's (and librdkafka's `murmur2_random`), so a key keeps its partition when data
/// moves between the embedded log and Kafka.
public enum Partitioner {
    public static func partition(forKey key: [UInt8], partitions: Int) -> Int {
        Int(murmur2(key) & 0x7fff_ffff) % partitions
    }

    /// MurmurHash2, 32-bit, seed 0x9747b28c, as in org.apache.kafka.common.utils.Utils.murmur2.
    public static func murmur2(_ data: [UInt8]) -> Int32 {
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        let length = data.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        let blocks = length / 4
        for i in 0..<blocks {
            let j = i * 4
            var k = UInt32(data[j]) | UInt32(data[j + 1]) << 8 | UInt32(data[j + 2]) << 16 | UInt32(data[j + 3]) << 24
            k &*= m
            k ^= k >> r
            k &*= m
            h &*= m
            h ^= k
        }
        let tail = blocks * 4
        switch length & 3 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h &*= m
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h &*= m
        case 1:
            h ^= UInt32(data[tail])
            h &*= m
        default: break
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }
}
