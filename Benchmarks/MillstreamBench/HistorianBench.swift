import AtRest
import Foundation
import Historian
import TestSupport

/// The historian's goal (issue 21): a year of one machine at one reading a minute, a 1,000-point trend in < 100 ms.
/// Ours reads the hourly rollup; the peer is what one would write without rollups: the same GROUP BY over the raw
/// samples, run by SQLite's own shell (`sqlite3`, Debian) on the same file, same machine, same run.
enum HistorianBench {
    static func run(directory: String, days: Int, rounds: Int) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/history.sqlite"
        let store = try SQLiteHistorian(path: path)
        let machine = "plant1/line1/m01"
        let start: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
        let minutes = days * 1_440
        let (written, writeSeconds) = try Self.write(minutes: minutes, start: start, machine: machine, to: store)
        let end = start + Int64(minutes) * 60_000
        print(
            "historian: \(minutes) readings of \(variables.count) variables (\(days) days at one a minute), \(written) samples written in \(String(format: "%.1f", writeSeconds)) s (\(Int(Double(written) / writeSeconds)) samples/s)"
        )
        let one = try HistoryQuery(machine: machine, variables: ["torque_nm"], from: start, to: end, points: 1_000)
        let all = try HistoryQuery(machine: machine, variables: variables, from: start, to: end, points: 1_000)
        var ours: [Double] = []
        var oursAll: [Double] = []
        var result: [HistorySeries] = []
        for _ in 0..<rounds {
            ours.append(try seconds { result = try store.series(one) })
            oursAll.append(try seconds { _ = try store.series(all) })
        }
        let s = result[0]
        let width = s.resolution
        // The peer: the same buckets from the raw samples, by SQLite's shell.
        let sql = """
            .timer on
            SELECT (ts / \(width)) * \(width) AS b, min(value), max(value), avg(value), count(*) FROM samples
            WHERE series = (SELECT id FROM series WHERE machine = '\(machine)' AND variable = 'torque_nm')
              AND ts >= \(start) AND ts < \(end) GROUP BY b ORDER BY b;
            """
        var peer: [Double] = []
        var peerRows = 0
        for _ in 0..<rounds {
            let (text, seconds) = try sqlite(path, sql)
            peer.append(seconds)
            peerRows = text.split(separator: "\n").filter { !$0.hasPrefix("Run Time") }.count
        }
        print(
            "1,000-point trend of \(days) days: \(s.times.count) buckets of \(width / 60_000) min from the \(s.source) rollup"
        )
        let pg = try await postgres(days: days, rounds: rounds, start: start, end: end, machine: machine)
        print(
            String(
                format:
                    "  ours (rollup), one variable:   %8.2f ms (median of %d)\n  ours (rollup), five variables: %8.2f ms\n  peer (sqlite3 shell, GROUP BY over the raw samples): %8.2f ms (%d buckets)\n  ratio peer/ours (one variable): %.1fx; goal < 100 ms: %@",
                median(ours) * 1000, rounds, median(oursAll) * 1000, median(peer) * 1000, peerRows,
                median(peer) / median(ours), median(ours) < 0.1 ? "met" : "NOT met"))
        if let pg {
            print(
                String(
                    format:
                        "  PostgreSQL (postgres-nio, a local server): written in %.1f s (%.0f samples/s); one variable %.2f ms, five %.2f ms",
                    pg.write, Double(written) / pg.write, pg.one * 1000, pg.five * 1000))
        }
    }

    /// Encryption at rest of the SQLite historian: the same days written to a plain and to a sealed file (alternated,
    /// best of `rounds`), then the 1,000-point trend of one variable from each (median); sealed / plain.
    static func sealed(directory: String, days: Int, rounds: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keyring = try Keyring(keys: [(1, Keyring.newKey())], source: "bench")
        let machine = "plant1/line1/m01"
        let start: Int64 = 1_767_225_600_000
        let minutes = days * 1_440
        let end = start + Int64(minutes) * 60_000
        var write: [Bool: Double] = [:]
        var trend: [Bool: [Double]] = [:]
        var samples = 0
        for round in 0..<(2 * rounds) {
            let encrypted = round % 2 == 1
            let path = directory + "/h\(round).sqlite"
            let store = try SQLiteHistorian(path: path, keyring: .some(encrypted ? keyring : nil))
            let (count, w) = try Self.write(minutes: minutes, start: start, machine: machine, to: store)
            samples = count
            write[encrypted] = min(write[encrypted] ?? .infinity, w)
            let one = try HistoryQuery(machine: machine, variables: ["torque_nm"], from: start, to: end, points: 1_000)
            for _ in 0..<5 { trend[encrypted, default: []].append(try seconds { _ = try store.series(one) }) }
        }
        let median = { (x: [Double]) in x.sorted()[x.count / 2] }
        print("historian (SQLite), \(days) days of one machine at one reading a minute, sealed vs plain:")
        row(
            "write", ours: Double(samples) / write[true]!, peer: Double(samples) / write[false]!, peerName: "plain",
            unit: "samples/s")
        print(
            String(
                format:
                    "1,000-point trend                 %9.2f ms      plain   %9.2f ms      ratio %.2f (plain/sealed)",
                median(trend[true]!) * 1000, median(trend[false]!) * 1000, median(trend[false]!) / median(trend[true]!))
        )
    }

    /// The same year in PostgreSQL (Debian's server, started here) and the same trends from it; nil when no
    /// PostgreSQL is installed.
    static func postgres(days: Int, rounds: Int, start: Int64, end: Int64, machine: String) async throws -> (
        write: Double, one: Double, five: Double
    )? {
        guard FileManager.default.fileExists(atPath: "/usr/lib/postgresql") else { return nil }
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.database("bench")
        return try await PostgresHistorian.withStore(url: url) { store in
            let began = ContinuousClock.now
            var m = 0
            let minutes = days * 1_440
            while m < minutes {
                let batch = Self.batch(minutes: m..<min(minutes, m + 10_000), start: start, machine: machine)
                try await store.write(batch)
                m += 10_000
            }
            let write = (ContinuousClock.now - began).seconds
            var one: [Double] = []
            var five: [Double] = []
            for _ in 0..<rounds {
                var t = ContinuousClock.now
                _ = try await store.series(
                    HistoryQuery(machine: machine, variables: ["torque_nm"], from: start, to: end, points: 1_000))
                one.append((ContinuousClock.now - t).seconds)
                t = ContinuousClock.now
                _ = try await store.series(
                    HistoryQuery(machine: machine, variables: variables, from: start, to: end, points: 1_000))
                five.append((ContinuousClock.now - t).seconds)
            }
            return (write, one.sorted()[rounds / 2], five.sorted()[rounds / 2])
        }
    }

    static let variables = ["air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min"]

    /// The readings of `minutes` (one a minute from `start`): a daily cycle and a weekly ripple on each variable.
    /// Writes `minutes` of readings in batches of 10,000 minutes; the samples written and the seconds it took.
    static func write(minutes: Int, start: Int64, machine: String, to store: SQLiteHistorian) throws -> (Int, Double) {
        var written = 0
        let time = try seconds {
            var m = 0
            while m < minutes {
                let batch = Self.batch(minutes: m..<min(minutes, m + 10_000), start: start, machine: machine)
                written += batch.samples.count
                try store.write(batch)
                m += 10_000
            }
        }
        return (written, time)
    }

    static func batch(minutes: Range<Int>, start: Int64, machine: String) -> HistorianBatch {
        var batch = HistorianBatch()
        for k in minutes {
            let t = start + Int64(k) * 60_000
            let phase = Double(k) / 1_440
            for (j, v) in variables.enumerated() {
                let value = 300 + Double(j) * 10 + 2 * sin(phase * 2 * .pi) + Double(k % 7) * 0.1
                batch.samples.append(HistorySample(machine: machine, variable: v, millis: t, value: value))
            }
        }
        return batch
    }

    /// Runs SQL in SQLite's shell; returns its output and the query's "Run Time: real" seconds.
    static func sqlite(_ path: String, _ sql: String) throws -> (String, Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = ["-readonly", path]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(sql.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("Run Time:") }),
            let real = line.split(separator: " ").dropFirst(3).first.flatMap({ Double($0) })
        else { throw BenchError("sqlite3 gave no run time: \(text.suffix(300))") }
        return (text, real)
    }
}
