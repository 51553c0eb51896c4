import AtRest
import Bus
import Buses
import Foundation
import Historian
import Plant
import Primitives
import Synchronization
import TestSupport
import Testing
import Topics

/// The historian on SQLite and on a real PostgreSQL server (Debian's, started here): rollups that give exactly the
/// buckets of the raw values, raw ranges, alerts, and a service that stores every record of the bus once and resumes
/// where its store ends. The same checks run on both.
@Suite struct HistorianTests {
    func directory() throws -> String {
        let dir = NSTemporaryDirectory() + "millstream-historian-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func rollupsGiveTheBucketsOfTheRawValues() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await checkRollups(try SQLiteHistorian(path: dir + "/h.sqlite"))
        #expect(throws: HistorianError.self) { try SQLiteHistorian(path: dir + "/none.sqlite", readOnly: true) }
    }

    /// Encrypted at rest (docs/encryption.md): the same checks on a sealed file, then what is on disk (no SQLite
    /// header, no machine or variable in clear, in the database or its WAL), the service's once-only resume on it,
    /// and the errors for no key, a wrong key and a plain file opened with keys.
    @Test func sealedSQLiteKeepsTheBucketsAndRevealsNothing() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = { (seed: UInt8) in Data((0..<32).map { UInt8($0) &* 7 &+ seed }).base64EncodedString() }
        let keyring = try Keyring.parse("1 \(key(1))", source: "test keys")
        let path = dir + "/sealed.sqlite"
        try await checkRollups(try SQLiteHistorian(path: path, keyring: keyring))
        try await checkService(dir: dir) { body in
            try await body(try SQLiteHistorian(path: dir + "/service.sqlite", keyring: keyring))
        }
        for file in [path, path + "-wal", dir + "/service.sqlite", dir + "/service.sqlite-wal"] {
            guard let bytes = FileManager.default.contents(atPath: file), !bytes.isEmpty else { continue }
            #expect(bytes.range(of: Data("SQLite format 3".utf8)) == nil, "\(file) has a plain SQLite header")
            #expect(bytes.range(of: Data("torque_nm".utf8)) == nil, "\(file) holds a variable name in clear")
        }
        // Read back read-only with the keys (what the server and `export` do).
        let reader = try SQLiteHistorian(path: path, readOnly: true, keyring: keyring)
        #expect(try await reader.catalog()["m1"] == ["torque_nm"])
        // No keys, another key, a plain file with keys: errors that say so.
        #expect { try SQLiteHistorian(path: path, readOnly: true, keyring: .some(nil)) } throws: {
            "\($0)".contains("is encrypted (or not SQLite): set MILLSTREAM_DATA_KEYS_FILE")
        }
        let other = try Keyring.parse("1 \(key(9))", source: "other keys")
        #expect { try SQLiteHistorian(path: path, readOnly: true, keyring: other) } throws: {
            "\($0)".contains("does not decrypt")
        }
        let plain = dir + "/plain.sqlite"
        _ = try SQLiteHistorian(path: plain, keyring: .some(nil))
        #expect { try SQLiteHistorian(path: plain, keyring: keyring) } throws: {
            "\($0)".contains("was written without encryption")
        }
    }

    @Test func onPostgreSQLTheBucketsAreTheSame() async throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.database("rollups")
        try await PostgresHistorian.withStore(url: url) { try await checkRollups($0) }
        // A wrong address is an error that names it.
        await #expect(throws: HistorianError.self) {
            try await PostgresHistorian.withStore(
                url: "postgres://millstream@127.0.0.1:\(TansuBroker.freePort())/x", connectTimeout: .seconds(2)
            ) {
                _ = try await $0.catalog()
            }
        }
    }

    func checkRollups(_ store: any HistorianStore) async throws {
        let start: Int64 = 1_767_225_600_000 + 17_000  // not on a minute: buckets straddle batches and ends
        var rng = RandomSource(seed: 3)
        var values: [(Int64, Double)] = []
        // Three days at about one reading a minute (jittered), written in batches that cut buckets in two.
        var t = start
        while t < start + 3 * 86_400_000 {
            values.append((t, 40 + 10 * rng.normal()))
            t += 45_000 + Int64(rng.uniform() * 30_000)
        }
        for chunk in stride(from: 0, to: values.count, by: 777) {
            var batch = HistorianBatch()
            for (ms, v) in values[chunk..<min(values.count, chunk + 777)] {
                batch.samples.append(HistorySample(machine: "m1", variable: "torque_nm", millis: ms, value: v))
                batch.samples.append(HistorySample(machine: "m2", variable: "torque_nm", millis: ms, value: -v))
            }
            try await store.write(batch)
        }
        // From the rollups: two days from a whole hour in 20 points (2.4 h, so 3-hour buckets from the hourly rollup)
        // and in 100 (28.8 min, so 29-minute buckets from the minute rollup).
        let from = (start / 3_600_000 + 1) * 3_600_000
        let to = from + 2 * 86_400_000
        for (points, source, width) in [(20, "1h", Int64(3 * 3_600_000)), (100, "1m", Int64(29 * 60_000))] {
            let q = try HistoryQuery(machine: "m1", variables: ["torque_nm"], from: from, to: to, points: points)
            let s = try #require(try await store.series(q).first)
            #expect(s.source == source && s.resolution == width, "\(s.source) \(s.resolution)")
            var expected: [Int64: [Double]] = [:]
            for (ms, v) in values where ms >= from && ms < to { expected[ms / width * width, default: []].append(v) }
            #expect(s.times == expected.keys.sorted())
            for (i, b) in s.times.enumerated() {
                let e = expected[b]!
                #expect(s.min[i] == e.min()! && s.max[i] == e.max()! && s.count[i] == e.count)
                #expect(abs(s.mean[i] - e.reduce(0, +) / Double(e.count)) < 1e-9)
            }
        }
        // Raw: every value in the range, in time order, of that machine only.
        let raw = try await store.series(
            HistoryQuery(machine: "m2", variables: ["torque_nm", "nope"], from: from, to: from + 3_600_000, points: 0))
        let inHour = values.filter { $0.0 >= from && $0.0 < from + 3_600_000 }
        #expect(raw.first?.times == inHour.map(\.0) && raw.first?.mean == inHour.map { -$0.1 })
        #expect(raw.last?.source == "none" && raw.last?.times.isEmpty == true)
        #expect(try await store.catalog() == ["m1": ["torque_nm"], "m2": ["torque_nm"]])
        // Bad queries say what is wrong.
        #expect(throws: HistorianError.self) {
            try HistoryQuery(machine: "m1", variables: ["x"], from: 10, to: 10, points: 5)
        }
    }

    @Test func theServiceStoresEachRecordOnceAndResumes() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/h.sqlite"
        try await checkService(dir: dir) { body in try await body(try SQLiteHistorian(path: path)) }
    }

    @Test func onPostgreSQLTheServiceStoresEachRecordOnce() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try PostgresServer()
        defer { server.stop() }
        let url = try server.database("service")
        try await checkService(dir: dir) { body in
            try await PostgresHistorian.withStore(url: url) { try await body($0) }
        }
    }

    /// Runs `body` with a store open on the same history each time (a restart between calls).
    typealias WithStore = (@Sendable (any HistorianStore) async throws -> HistorianProgress) async throws
        -> HistorianProgress

    func checkService(dir: String, withStore: WithStore) async throws {
        let bus = try openBus("embedded://\(dir)/bus?partitions=3&fsync=never")
        let producer = try await bus.producer()
        let start: Int64 = 1_767_225_600_000
        func send(_ range: Range<Int>) async throws {
            var readings: [Record] = []
            var predictions: [Record] = []
            var alerts: [Record] = []
            for i in range {
                let machine = "plant1/line1/m\(i % 4)"
                let t = start + Int64(i) * 15_000
                let reading = Reading(
                    machine: machine, timestamp: t, sequence: Int64(i),
                    values: [Measurement("torque_nm", Double(i)), Measurement("rpm", 1500)])
                readings.append(Record(key: Array(machine.utf8), value: reading.encoded(), timestamp: t))
                let p = PredictionRecord(
                    machine: machine, ts: Timestamp.format(t), seq: Int64(i), state: "running", product: nil,
                    risk: Double(i % 10) / 10, failure: false, model: "failure@v1", features: NamedValues(),
                    source: nil)
                predictions.append(Record(key: Array(machine.utf8), value: p.encoded(), timestamp: t))
                if i % 50 == 0 {
                    let a = AlertRecord(
                        id: "\(machine)/failure_risk/\(i)", machine: machine, ts: Timestamp.format(t),
                        kind: "failure_risk", severity: "critical", priority: "high", status: "raised",
                        message: "risk \(i)")
                    alerts.append(Record(key: Array(machine.utf8), value: a.encoded(), timestamp: t))
                }
            }
            _ = try await producer.send(readings, to: Topics.readings.name)
            _ = try await producer.send(predictions, to: Topics.predictions.name)
            _ = try await producer.send(alerts, to: Topics.alerts.name)
            // Something the historian cannot read is skipped and counted.
            _ = try await producer.send([Record(key: nil, value: Array("{".utf8), timestamp: 0)], to: "kpis")
        }
        func catchUp() async throws -> HistorianProgress {
            try await withStore { store in
                let seen = Mutex(HistorianProgress())
                let service = HistorianService(bus: bus, store: store, batchSize: 700, untilCaughtUp: true) { p in
                    seen.withLock { $0 = p }
                }
                try await service.run()
                return seen.withLock { $0 }
            }
        }
        try await send(0..<2_000)
        let first = try await catchUp()
        #expect(first.records == 2_000 + 2_000 + 40 + 1 && first.alerts == 40 && first.unreadable == 1, "\(first)")
        try await send(2_000..<3_000)
        let second = try await catchUp()
        // The second run starts where the store ends: only the new records.
        #expect(second.records == 1_000 + 1_000 + 20 + 1, "\(second)")
        _ = try await withStore { store in
            let all = try await store.series(
                HistoryQuery(
                    machine: "plant1/line1/m1", variables: ["torque_nm", "rpm", "risk"], from: start,
                    to: start + 3_000 * 15_000, points: 0))
            #expect(all.map(\.times.count) == [750, 750, 750])
            #expect(all[0].mean == stride(from: 1, to: 3_000, by: 4).map(Double.init))
            let alerts = try await store.alerts(machine: nil, from: 0, to: .max, limit: 1_000)
            #expect(alerts.count == 60 && alerts.first?.message == "risk 2950")
            #expect(try await store.alerts(machine: "plant1/line1/m2", from: 0, to: .max, limit: 5).count == 5)
            return HistorianProgress()
        }
        try await bus.close()
    }
}
