import EventLog
import Foundation
import Plant
import Testing

@Suite(.serialized) struct BadInputTests {
    func expectFailure(_ r: CLI.Result, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status != 0, sourceLocation: sourceLocation)
        #expect(r.stderr.contains(fragment), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test func unknownSchemeAndBadOptions() async throws {
        expectFailure(
            try await CLI.run(["simulate", "--count", "10", "--fast", "--bus", "mqtt://broker:1883"]),
            "unknown bus scheme 'mqtt'")
        expectFailure(
            try await CLI.run(["simulate", "--count", "10", "--fast", "--machines", "500"]),
            "--machines 500 is out of range")
        expectFailure(
            try await CLI.run(["simulate", "--count", "10", "--rate", "5", "--fast"]), "either --rate or --fast")
        expectFailure(
            try await CLI.run(["simulate", "--count", "10", "--fast", "--bad-fraction", "2"]),
            "--bad-fraction 2.0 must be from 0 to 1")
        expectFailure(
            try await CLI.run(["topics", "describe", "readings", "--bus", "embedded:///nonexistent-millstream"]),
            "no Millstream log")
    }

    @Test func noPermissionForTheLogDirectory() async throws {
        let path: String
        if geteuid() == 0 {
            path = "/sys/millstream-test-log"  // not even root may create directories here
        } else {
            let parent = temporaryDirectory()
            try FileManager.default.createDirectory(
                atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o500])
            path = parent + "/log"
        }
        let r = try await CLI.run(["simulate", "--count", "10", "--fast", "--bus", "embedded://\(path)"])
        expectFailure(r, "create directory")
        #expect(r.stderr.contains("not permitted") || r.stderr.contains("Permission denied"), "\(r.stderr)")
    }

    @Test func malformedConfigNamesLineAndColumn() async throws {
        let file = temporaryDirectory() + ".yaml"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "process: x\nsite: s\nideal_cycle_s: [1\nlines: []\n".write(toFile: file, atomically: true, encoding: .utf8)
        expectFailure(try await CLI.run(["simulate", "--count", "10", "--fast", "--config", file]), "\(file):4:")
        try ProcessConfig.millingYAML.replacingOccurrences(of: "max: 6000", with: "max: lots").write(
            toFile: file, atomically: true, encoding: .utf8)
        expectFailure(
            try await CLI.run(["simulate", "--count", "10", "--fast", "--config", file]),
            "variables.rpm.max: expected a number, found 'lots'")
    }

    /// Each kind of bad reading is refused with its line and reason, and nothing of the file is written.
    @Test func badReadingsAreRefusedAndTheLogIsUnharmed() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = "embedded://\(dir)"
        #expect(try await CLI.run(["simulate", "--count", "500", "--fast", "--bus", bus]).status == 0)
        let good =
            #"{"machine":"plant1/line1/m01","ts":"2026-01-01T00:00:00Z","seq":1,"values":{"air_temp_k":300,"process_temp_k":310,"rpm":1500,"torque_nm":40,"tool_wear_min":5},"product":"L","state":"running","good":1,"scrap":0}"#
        let cases: [(String, String)] = [
            (good.replacingOccurrences(of: #""torque_nm":40,"#, with: ""), "values.torque_nm is missing"),
            (good.replacingOccurrences(of: "1500", with: #""fast""#), "values.rpm: expected a number, found text"),
            (good.replacingOccurrences(of: "1500", with: "NaN"), "values.rpm: NaN and Infinity are not finite"),
            (good.replacingOccurrences(of: "1500", with: "1e400"), "values.rpm: 1e400 is too large"),
            (
                good.replacingOccurrences(of: "line1/m01", with: "line9/m99"),
                "machine 'plant1/line9/m99' is not in process config"
            ),
            (String(good.prefix(60)), "malformed JSON"),
        ]
        let file = dir + "-in.jsonl"
        defer { try? FileManager.default.removeItem(atPath: file) }
        for (bad, message) in cases {
            try [good, good, bad, good].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            expectFailure(try await CLI.run(["import", file, "--bus", bus]), "\(file):3: \(message)")
        }
        let csv = dir + "-in.csv"
        defer { try? FileManager.default.removeItem(atPath: csv) }
        try
            "Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],Tool wear [min]\nL,300,310,1500,40,0\nM,300,310,n/a,40,0\n"
            .write(toFile: csv, atomically: true, encoding: .utf8)
        expectFailure(
            try await CLI.run(["import", csv, "--bus", bus]),
            "\(csv):3: column 'Rotational speed [rpm]' 'n/a' is not a finite number")
        // Nothing of the refused files reached the log.
        let describe = try await CLI.run(["topics", "describe", "readings", "--bus", bus, "--json"])
        #expect(
            (try JSONSerialization.jsonObject(with: Data(describe.stdout.utf8)) as! [String: Any])["records"] as? Int
                == 500)
    }

    @Test func importsTheAI4IFile() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../data/ai4i2020.csv"
        ).standardized.path
        let r = try await CLI.run([
            "import", data, "--bus", "embedded://\(dir)", "--json", "--machine", "plant1/line2/m07", "--start",
            "2026-01-01T00:00:00Z",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let tail = try await CLI.run([
            "tail", "readings", "--bus", "embedded://\(dir)", "--from-beginning", "--count", "1",
        ])
        #expect(
            tail.stdout
                == #"{"machine":"plant1/line2/m07","ts":"2026-01-01T00:00:00.000Z","seq":1,"values":{"air_temp_k":298.1,"process_temp_k":308.6,"rpm":1551,"torque_nm":42.8,"tool_wear_min":0},"product":"M","state":"running","good":1,"scrap":0}"#
                + "\n")
        let describe = try await CLI.run(["topics", "describe", "readings", "--bus", "embedded://\(dir)", "--json"])
        #expect(
            (try JSONSerialization.jsonObject(with: Data(describe.stdout.utf8)) as! [String: Any])["records"] as? Int
                == 10_000)
    }

    /// A full disk (here: a file-size limit) fails the run with a clear error; what was acknowledged stays readable.
    @Test func fullDiskFailsCleanly() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try await CLI.run(
            [
                "simulate", "--count", "1000000", "--fast", "--json", "--bus",
                "embedded://\(dir)?fsync=batch&partitions=1",
            ],
            shell: "ulimit -f 1024")  // 1 MiB per file
        expectFailure(r, "File too large")
        let log = try EventLog.open(directory: dir)
        let partition = try log.topic("readings").partition(0)
        var offset: Int64 = 0
        var count = 0
        while true {
            let result = try partition.read(from: offset, maxBytes: 1 << 20)
            if result.records.isEmpty { break }
            for record in result.records { _ = try ReadingDecoder.decode(record.value) }
            count += result.records.count
            offset = result.nextOffset
        }
        #expect(count > 1000)
        #expect(log.recoveryNotes.isEmpty, "a failed write leaves no torn tail: \(log.recoveryNotes)")
    }
}
