import Bus
import Primitives
import Testing

@Suite struct PartitionerTests {
    /// The vectors of Apache Kafka's UtilsTest.testMurmur2: the Java client's hash, bit for bit.
    @Test func murmur2MatchesTheJavaClient() {
        let vectors: [(String, Int32)] = [
            ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971), ("abc", 479_470_107),
        ]
        for (key, hash) in vectors { #expect(Partitioner.murmur2(Array(key.utf8)) == hash, "\(key)") }
        // toPositive(-790332482) % 10 = 1357151166 % 10
        #expect(Partitioner.partition(forKey: Array("foobar".utf8), partitions: 10) == 6)
    }

    @Test func urls() throws {
        #expect(try BusURL("embedded://./data").kind == .embedded(path: "./data"))
        #expect(try BusURL("embedded:///var/lib/m?fsync=batch").kind == .embedded(path: "/var/lib/m"))
        #expect(try BusURL("kafka://a:9092,b:9093").kind == .kafka(bootstrap: ["a:9092", "b:9093"]))
        for (bad, fragment) in [
            ("foo://x", "unknown bus scheme 'foo'"), ("./data", "has no scheme"), ("kafka://host", "not HOST:PORT"),
            ("kafka://h:70000", "not HOST:PORT"), ("embedded://", "names no directory"),
        ] {
            #expect { try BusURL(bad) } throws: { "\($0)".contains(fragment) }
        }
    }
}
