import Foundation
import Testing

/// The pipeline keeps a machine's state by its id's place among the config's plain ids, and by name for an id that
/// is not plain ASCII. Either way, a worker that stops and starts again from its checkpoint writes what one that never
/// stopped writes.
@Suite(.serialized) struct MachineStateTests {
    static let config = """
        process: press
        site: s1
        ideal_cycle_s: 10
        lines:
          - name: l1
            machines: [p1, prëss2, p3]
        variables:
          force_kn: {unit: kN, min: 0, max: 1000}
          temp_c: {unit: C, min: -50, max: 400}
        """

    /// Readings of the three machines in turn, one a minute each, with values that move (so running means and
    /// control charts depend on every reading before).
    static func readings(_ range: Range<Int>) -> String {
        let machines = ["s1/l1/p1", "s1/l1/prëss2", "s1/l1/p3"]
        var jsonl = ""
        for i in range {
            let minute = i / 3
            let force = 400 + Double((i * 37) % 101) + (i % 3 == 1 ? Double(i) : 0)
            let temp = 120 + Double((i * 13) % 17) / 2
            jsonl +=
                "{\"machine\":\"\(machines[i % 3])\",\"ts\":\"2026-01-01T\(String(format: "%02d:%02d", minute / 60, minute % 60)):00.000Z\",\"seq\":\(minute + 1),\"state\":\"running\",\"values\":{\"force_kn\":\(force),\"temp_c\":\(temp)},\"good\":1,\"scrap\":0}\n"
        }
        return jsonl
    }

    @Test func machinesOfEveryIdKeepTheirStateAcrossRestarts() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/press.yaml"
        try Self.config.write(toFile: config, atomically: true, encoding: .utf8)
        try Self.readings(0..<150).write(toFile: dir + "/first.jsonl", atomically: true, encoding: .utf8)
        try Self.readings(150..<300).write(toFile: dir + "/second.jsonl", atomically: true, encoding: .utf8)
        try Self.readings(0..<300).write(toFile: dir + "/all.jsonl", atomically: true, encoding: .utf8)

        func load(_ file: String, _ bus: String) async throws {
            let r = try await CLI.run(["import", dir + "/" + file, "--config", config, "--bus", bus])
            #expect(r.status == 0, "\(r.stderr)")
        }
        func run(_ bus: String) async throws -> String {
            let r = try await CLI.run(["run", "--config", config, "--bus", bus, "--exit-when-idle", "1s"])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout
        }
        func outputs(_ bus: String) async throws -> [String: [Substring]] {
            var all: [String: [Substring]] = [:]
            for topic in ["predictions", "kpis", "alerts", "dead-letters"] {
                let r = try await CLI.run(["tail", topic, "--bus", bus, "--from-beginning", "--exit-at-end"])
                #expect(r.status == 0, "\(r.stderr)")
                all[topic] = r.stdout.split(separator: "\n").sorted()  // (partitions are read in either order)
            }
            return all
        }

        // Stopped halfway, and started again from its checkpoint.
        let restarted = "embedded://\(dir)/restarted"
        try await load("first.jsonl", restarted)
        _ = try await run(restarted)
        try await load("second.jsonl", restarted)
        let second = try await run(restarted)
        #expect(second.contains("checkpoint at offset"), "\(second)")
        // Never stopped.
        let uninterrupted = "embedded://\(dir)/uninterrupted"
        try await load("all.jsonl", uninterrupted)
        _ = try await run(uninterrupted)

        let a = try await outputs(restarted)
        let b = try await outputs(uninterrupted)
        #expect(a["predictions"]?.count == 300)
        #expect(a["dead-letters"]?.isEmpty == true, "\(a["dead-letters"] ?? [])")
        for machine in ["s1/l1/p1", "s1/l1/prëss2", "s1/l1/p3"] {
            let predictions = a["predictions"]?.filter { $0.contains("\"machine\":\"\(machine)\"") } ?? []
            #expect(predictions.count == 100, "\(machine)")
            #expect(predictions.allSatisfy { $0.contains("\"force_kn_ewma\":") }, "\(machine)")
        }
        for topic in ["predictions", "kpis", "alerts"] {
            #expect(
                a[topic] == b[topic], "\(topic): the restarted worker's records differ from the uninterrupted one's")
        }
        #expect(a["kpis"]?.isEmpty == false)
    }
}
