import Foundation
import Plant
import Topics

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
        // As the pipeline's worker decodes: with the process's machines, variable names and products known.
        let config = ProcessConfig.milling()
        let known = KnownTexts(config.machineIDs + config.variables.map(\.name) + config.products.map(\.name))
        let oursKnown = try seconds {
            for p in payloads { sink += try ReadingDecoder.decode(p, known: known).values[0].value }
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
        row(
            "decode (strict, bytes, texts known)", ours: Double(count) / oursKnown, peer: Double(count) / serialization,
            peerName: "JSONSerialization", unit: "/s")
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
        try records(count: count / 4)
    }

    /// Topic records (the pipeline writes a prediction per reading; the server reads them all): the Topics module's
    /// encoder and decoder beside Foundation's JSONEncoder and JSONDecoder on the same Codable type.
    static func records(count: Int) throws {
        // The numbers as the pipeline makes them: derived features and running means are full-precision doubles
        // (310.2 - 300.1 is 10.099999999999966), only the tool wear's mean of whole minutes stays short.
        let (air, process, rpm, torque) = (300.1, 310.2, 1500.0, 40.1)
        let record = PredictionRecord(
            machine: "plant1/line1/m07", ts: "2026-11-25T06:00:00.123Z", seq: 12_345, state: "running", product: "M",
            risk: 0.012_345_678_901_234_5, failure: false, model: "failure@v3",
            anomaly: .init(score: 0.41, alarm: false, topVariable: "torque_nm"),
            features: [
                "power_w": torque * rpm * 2 * Double.pi / 60, "temp_diff_k": process - air,
                "strain_minnm": torque * 108,
                "air_temp_k_ewma": 0.3 * air + 0.7 * 300.3, "process_temp_k_ewma": 0.3 * process + 0.7 * 310.1,
                "rpm_ewma": 0.3 * rpm + 0.7 * 1503, "torque_nm_ewma": 0.3 * torque + 0.7 * 39.7,
                "tool_wear_min_ewma": 108,
            ],
            source: SourceRef(topic: "readings", partition: 3, offset: 123_456))
        let bytes = record.encoded()
        print("prediction records: \(count) of \(bytes.count) B")
        var sink = 0
        let ours = seconds { for _ in 0..<count { sink &+= record.encoded().count } }
        let codable = try seconds { for _ in 0..<count { sink &+= try RecordEncoder.encode(record).count } }
        let encoder = JSONEncoder()
        let foundation = try seconds { for _ in 0..<count { sink &+= try encoder.encode(record).count } }
        row(
            "encode (predictions' writer)", ours: Double(count) / ours, peer: Double(count) / foundation,
            peerName: "JSONEncoder", unit: "/s")
        row(
            "encode (RecordEncoder, Codable)", ours: Double(count) / codable, peer: Double(count) / foundation,
            peerName: "JSONEncoder", unit: "/s")
        let oursDecode = try seconds {
            for _ in 0..<count { sink &+= try Topics.predictions.decode(bytes).features.entries.count }
        }
        let data = Data(bytes)
        let decoder = JSONDecoder()
        let foundationDecode = try seconds {
            for _ in 0..<count { sink &+= try decoder.decode(PredictionRecord.self, from: data).features.entries.count }
        }
        row(
            "decode (strict)", ours: Double(count) / oursDecode, peer: Double(count) / foundationDecode,
            peerName: "JSONDecoder", unit: "/s")
        // What the plant view did before the Topics module: JSONSerialization, then reads from the dictionary.
        let untyped = try seconds {
            for _ in 0..<count {
                let o = try JSONSerialization.jsonObject(with: data) as! [String: Any]
                sink &+= (o["features"] as? [String: Any])?.count ?? 0
            }
        }
        row(
            "decode (strict)", ours: Double(count) / oursDecode, peer: Double(count) / untyped,
            peerName: "JSONSerialization (untyped)", unit: "/s")
        print("  (sink \(sink))")
    }
}
