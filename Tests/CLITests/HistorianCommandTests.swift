import Foundation
import TestSupport
import Testing

/// `millstream historian` stores the bus once whatever kills it, into SQLite (plain or encrypted at rest) or
/// PostgreSQL, and `millstream export` reads it back.
@Suite(.serialized) struct HistorianCommandTests {
    @Test func killedHistorianStoresEveryRecordOnce() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = "embedded://\(dir)/bus"
        let sim = try await CLI.run([
            "simulate", "--machines", "10", "--duration", "1d", "--fast", "--seed", "4", "--start",
            "2026-05-01T00:00:00Z", "--bus", bus,
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        // The pipeline adds KPIs and alerts (no model: no risks).
        let run = try await CLI.run(["run", "--bus", bus, "--exit-when-idle", "1s"])
        #expect(run.status == 0, "\(run.stderr)")

        let whole = try await CLI.run([
            "historian", "--bus", bus, "--db", dir + "/whole.sqlite", "--until-caught-up", "--json",
        ])
        #expect(whole.status == 0, "\(whole.stderr)")
        let stored = try JSONSerialization.jsonObject(with: Data(whole.stdout.utf8)) as? [String: Any]
        #expect((stored?["samples"] as? Int ?? 0) > 14_000 * 5, "\(whole.stdout)")
        #expect((stored?["alerts"] as? Int ?? 0) > 0 && stored?["unreadable"] as? Int == 0)

        // The same bus into another file, killed three times while it writes, then finished; and so into a file
        // encrypted at rest (docs/encryption.md), whose recovery after each kill goes through the sealed WAL.
        let keys = dir + "/data-keys"
        try "1 \(Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString())\n".write(
            toFile: keys, atomically: true, encoding: .utf8)
        let withKeys = "export MILLSTREAM_DATA_KEYS_FILE='\(keys)'"
        for db in ["killed", "sealed"] {
            for _ in 0..<3 {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: CLI.binary)
                process.arguments = ["historian", "--bus", bus, "--db", "\(dir)/\(db).sqlite"]
                if db == "sealed" {
                    process.environment = ProcessInfo.processInfo.environment.merging(
                        ["MILLSTREAM_DATA_KEYS_FILE": keys], uniquingKeysWith: { $1 })
                }
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...1_500)))
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            let finish = try await CLI.run(
                ["historian", "--bus", bus, "--db", "\(dir)/\(db).sqlite", "--until-caught-up", "--json"],
                shell: db == "sealed" ? withKeys : nil)
            #expect(finish.status == 0, "\(finish.stderr)")
        }
        let sealed = try Data(contentsOf: URL(fileURLWithPath: dir + "/sealed.sqlite"))
        #expect(sealed.range(of: Data("plant1/line1".utf8)) == nil && sealed.range(of: Data("SQLite".utf8)) == nil)
        let locked = try await CLI.run(["export", "--db", dir + "/sealed.sqlite", "--alerts"])
        #expect(locked.status != 0 && locked.stderr.contains("is encrypted"), "\(locked.stderr)")

        // Every machine's every variable, raw, and every alert: the same in both files.
        let variables = "air_temp_k,process_temp_k,rpm,torque_nm,tool_wear_min,oee,availability,performance,quality"
        var rows = 0
        for m in 1...10 {
            let machine = String(format: "plant1/line1/m%02d", m)
            var exports: [String] = []
            for db in ["whole", "killed", "sealed"] {
                let export = try await CLI.run(
                    ["export", "--db", "\(dir)/\(db).sqlite", "--machine", machine, "--variables", variables],
                    shell: db == "sealed" ? withKeys : nil)
                #expect(export.status == 0, "\(export.stderr)")
                exports.append(export.stdout)
            }
            #expect(exports[0] == exports[1], "\(machine): the killed historian's history differs")
            #expect(exports[0] == exports[2], "\(machine): the encrypted historian's history differs")
            rows += exports[0].split(separator: "\n").count - 1
        }
        #expect(rows > 14_000, "\(rows) rows")
        let alerts = try await ["whole", "killed", "sealed"].asyncMap {
            try await CLI.run(
                ["export", "--db", "\(dir)/\($0).sqlite", "--alerts", "--format", "json"],
                shell: $0 == "sealed" ? withKeys : nil
            ).stdout
        }
        #expect(alerts[0] == alerts[1] && alerts[0] == alerts[2] && alerts[0].hasPrefix("[{"))

        // The same bus into PostgreSQL (a real server, started here) exports the same history.
        let postgres = try PostgresServer()
        defer { postgres.stop() }
        let url = try postgres.database("plant")
        let intoPostgres = try await CLI.run(["historian", "--bus", bus, "--db", url, "--until-caught-up", "--json"])
        #expect(intoPostgres.status == 0, "\(intoPostgres.stderr)")
        let fromFile = try await CLI.run([
            "export", "--db", dir + "/whole.sqlite", "--machine", "plant1/line1/m03", "--variables", variables,
            "--points", "50", "--from", "2026-05-01T00:00:00Z", "--to", "2026-05-02T00:00:00Z",
        ])
        let fromPostgres = try await CLI.run([
            "export", "--db", url, "--machine", "plant1/line1/m03", "--variables", variables, "--points", "50",
            "--from",
            "2026-05-01T00:00:00Z", "--to", "2026-05-02T00:00:00Z",
        ])
        #expect(fromPostgres.status == 0, "\(fromPostgres.stderr)")
        // Min, max and count alike; means alike but for the order of the sums (last digits).
        let a = fromFile.stdout.split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        let b = fromPostgres.stdout.split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        #expect(a.count == b.count && a.count > 40 && a.first == b.first)
        let means = Set((a.first ?? []).indices.filter { a[0][$0].hasSuffix("_mean") })
        for (x, y) in zip(a.dropFirst(), b.dropFirst()) {
            for (k, (u, v)) in zip(x, y).enumerated() {
                if means.contains(k), let p = Double(u), let q = Double(v) {
                    #expect(abs(p - q) <= 1e-9 * max(1, abs(p)), "\(x) \(y)")
                } else {
                    #expect(u == v, "\(x) \(y)")
                }
            }
        }
        let rawPostgres = try await CLI.run([
            "export", "--db", url, "--machine", "plant1/line1/m03", "--variables", variables,
        ])
        let rawFile = try await CLI.run([
            "export", "--db", dir + "/whole.sqlite", "--machine", "plant1/line1/m03", "--variables", variables,
        ])
        #expect(rawPostgres.stdout == rawFile.stdout)

        // Parquet: pyarrow reads the same table as the CSV, raw and in buckets, and the alerts.
        for points in ["0", "96"] {
            let arguments = [
                "export", "--db", dir + "/whole.sqlite", "--machine", "plant1/line1/m02", "--variables", variables,
                "--points", points, "--from", "2026-05-01T00:00:00Z", "--to", "2026-05-02T00:00:00Z",
            ]
            let csv = try await CLI.run(arguments + ["--out", dir + "/m02.csv"])
            let parquet = try await CLI.run(arguments + ["--format", "parquet", "--out", dir + "/m02.parquet"])
            #expect(csv.status == 0 && parquet.status == 0, "\(parquet.stderr)")
            let (status, output) = try await runTool(
                LiveDemo.repository + "/.venv/bin/python",
                ["-c", Self.sameTable, dir + "/m02.parquet", dir + "/m02.csv"])
            #expect(status == 0 && output.hasPrefix("same "), "points \(points): \(output)")
        }
        let alertsParquet = try await CLI.run([
            "export", "--db", dir + "/whole.sqlite", "--alerts", "--format", "parquet", "--out",
            dir + "/alerts.parquet",
        ])
        _ = try await CLI.run(["export", "--db", dir + "/whole.sqlite", "--alerts", "--out", dir + "/alerts.csv"])
        #expect(alertsParquet.status == 0, "\(alertsParquet.stderr)")
        let (alertsStatus, alertsOutput) = try await runTool(
            LiveDemo.repository + "/.venv/bin/python",
            ["-c", Self.sameTable, dir + "/alerts.parquet", dir + "/alerts.csv"])
        #expect(alertsStatus == 0 && alertsOutput.hasPrefix("same "), "\(alertsOutput)")

        // Downsampled: 24 hourly buckets of the day.
        let hourly = try await CLI.run([
            "export", "--db", dir + "/whole.sqlite", "--machine", "plant1/line1/m01", "--variables", "torque_nm",
            "--from", "2026-05-01T00:00:00Z", "--to", "2026-05-02T00:00:00Z", "--points", "24",
        ])
        let lines = hourly.stdout.split(separator: "\n")
        #expect(lines.first == "time,torque_nm_min,torque_nm_max,torque_nm_mean,torque_nm_count")
        #expect(lines.count == 25 && lines[1].hasPrefix("2026-05-01T00:00:00.000Z,"), "\(hourly.stdout.prefix(300))")

        // Clear errors.
        let missing = try await CLI.run(["export", "--db", dir + "/none.sqlite", "--alerts"])
        #expect(missing.status != 0 && missing.stderr.contains("no historian at \(dir)/none.sqlite"))
        let incomplete = try await CLI.run(["export", "--db", dir + "/whole.sqlite", "--machine", "m"])
        #expect(incomplete.status != 0 && incomplete.stderr.contains("--variables"))
    }
}

extension HistorianCommandTests {
    /// pyarrow reads the Parquet file (argv 1) and finds the CSV file's table (argv 2): the same columns, rows, times
    /// and values (numbers to 1e-12), empty cells as nulls.
    static let sameTable = """
        import csv, sys
        from datetime import datetime
        import pyarrow.parquet as pq
        table = pq.read_table(sys.argv[1])
        rows = list(csv.reader(open(sys.argv[2], newline="")))
        header, rows = rows[0], rows[1:]
        assert table.column_names == header, (table.column_names, header)
        assert table.num_rows == len(rows), (table.num_rows, len(rows))
        assert str(table.schema.field("time").type).startswith("timestamp[ms"), table.schema
        times = table.column("time").cast("int64").to_pylist()
        for i, name in enumerate(header):
            values = times if name == "time" else table.column(name).to_pylist()
            for row, v in zip(rows, values):
                cell = row[i]
                if name == "time":
                    want = round(datetime.fromisoformat(cell.replace("Z", "+00:00")).timestamp() * 1000)
                    assert v == want, (cell, v)
                elif cell == "":
                    assert v is None, (name, v)
                elif isinstance(v, str):
                    assert v == cell, (name, cell, v)
                else:
                    assert abs(float(cell) - v) <= 1e-12 * max(1.0, abs(v)), (name, cell, v)
        print("same", table.num_rows, "rows of", len(header), "columns")
        """
}

extension Array {
    func asyncMap<T>(_ body: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await body(e)) }
        return out
    }
}
