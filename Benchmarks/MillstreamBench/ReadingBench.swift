import Foundation
import Plant

/// Decoding readings: Millstream's strict byte-level decoder beside Foundation's JSONSerialization and JSONDecoder.
enum ReadingBench {
    struct Wire: Decodable {
        var machine: String
        var ts: String
        var seq: Int64?
        var values: [String: Double]
        var product: String?
        var state: String?
        var good: Int?
        var scrap: Int?
    }

    static func run(count: Int) throws {
        var simulator = try PlantSimulator(config: .milling(), machines: 20, seed: 7, start: 1_764_000_000_000)
        let payloads = (0..<count).map { _ in ReadingEncoder.encode(simulator.next().reading) }
        let datas = payloads.map { Data($0) }
        print("reading decode: \(count) readings of about \(payloads.map(\.count).reduce(0, +) / count) B")
        var sink = 0.0
        let ours = try seconds {
            for p in payloads { sink += try ReadingDecoder.decode(p).values[0].value }
        }
        let serialization = try seconds {
            for d in datas {
                let o = try JSONSerialization.jsonObject(with: d) as! [String: Any]
                sink += ((o["values"] as! [String: Any])["air_temp_k"] as! NSNumber).doubleValue
            }
        }
        let decoder = JSONDecoder()
        let codable = try seconds {
            for d in datas { sink += try decoder.decode(Wire.self, from: d).values["air_temp_k"]! }
        }
        row(
            "decode (strict, bytes)", ours: Double(count) / ours, peer: Double(count) / serialization,
            peerName: "JSONSerialization", unit: "/s")
        row(
            "decode (strict, bytes)", ours: Double(count) / ours, peer: Double(count) / codable,
            peerName: "JSONDecoder", unit: "/s")
        let encode = seconds {
            var out: [UInt8] = []
            for _ in 0..<count {
                out.removeAll(keepingCapacity: true)
                ReadingEncoder.encode(simulator.next().reading, into: &out)
                sink += Double(out.count)
            }
        }
        print(String(format: "simulate + encode: %.0f readings/s", Double(count) / encode))
        print("  (sink \(sink))")
    }
}
