import Foundation
import Tabular
import Testing

/// Parquet files as pyarrow (Apache Arrow's reader, in .venv) reads them: several row groups, nulls, strings with
/// non-ASCII text, timestamps, and a column of only nulls.
@Suite struct ParquetWriterTests {
    @Test func pyarrowReadsWhatIsWritten() throws {
        let ints: [Int64?] = [1, nil, -3, 4_000_000_000_000, nil, 6, 7, 8, 9, 10]
        let doubles: [Double?] = [0.5, 1e-300, nil, -2.25, .greatestFiniteMagnitude, 6, nil, 8, 9.75, 10]
        let strings: [String?] = ["a", "", nil, "Grüße, \"quoted\"", "x", nil, "y", "z", "temp_diff_k", "😀"]
        let times: [Int64?] = (0..<10).map { 1_767_225_600_000 + Int64($0) * 60_000 }
        let bytes = ParquetWriter.write(
            [
                .int64("time", times, timestampMillis: true), .int64("n", ints), .double("x", doubles),
                .string("s", strings), .double("empty", [Double?](repeating: nil, count: 10)),
            ], rowGroupSize: 4)
        let path = NSTemporaryDirectory() + "parquet-\(UUID().uuidString).parquet"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = """
            import json, sys
            import pyarrow.parquet as pq
            f = pq.ParquetFile(sys.argv[1])
            t = f.read()
            print(json.dumps({"groups": f.metadata.num_row_groups, "schema": [str(x.type) for x in t.schema],
                "time": t.column("time").cast("int64").to_pylist(), "n": t.column("n").to_pylist(),
                "x": t.column("x").to_pylist(), "s": t.column("s").to_pylist(), "empty": t.column("empty").to_pylist()}))
            """
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
            .standardized.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: repository + "/.venv/bin/python")
        process.arguments = ["-c", script, path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
        let got = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(text)")
        #expect(got["groups"] as? Int == 3)
        #expect((got["schema"] as? [String])?.first?.hasPrefix("timestamp[ms") == true, "\(text)")
        #expect((got["time"] as? [Int64]) == times.map { $0! })
        #expect((got["n"] as? [Any])?.map { $0 as? Int64 } == ints)
        #expect((got["x"] as? [Any])?.map { $0 as? Double } == doubles)
        #expect((got["s"] as? [Any])?.map { $0 as? String } == strings)
        #expect((got["empty"] as? [Any])?.allSatisfy { $0 is NSNull } == true)
    }
}
