import EventLog
import Foundation
import Testing

@Suite(.serialized) struct PipelineTests {
    /// Exactly-once accounting: 200,000 readings of which exactly 1 % are bad; the worker is killed with SIGKILL at
    /// five random moments and restarted; in the end predictions + dead letters = readings, and no source offset
    /// appears twice.
    @Test func everyReadingYieldsItsOutputsExactlyOnceAcrossKills() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = "embedded://\(dir)"
        let sim = try await CLI.run([
            "simulate", "--machines", "20", "--count", "200000", "--fast", "--bad-fraction", "0.01", "--bus", bus,
            "--json",
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        for _ in 0..<5 { try await CLI.killWorker(bus: bus, targets: 500...30_000) { try outputs(dir) } }
        let finish = try await CLI.run(["run", "--bus", bus, "--exit-when-idle", "1s", "--json"])
        #expect(finish.status == 0, "\(finish.stderr)")
        // The worker's allocator is jemalloc, which the executable links (Sources/Allocator), not glibc's malloc.
        #expect(finish.stderr.contains("\"allocator\":\"jemalloc 5"), "\(finish.stderr.prefix(2000))")
        // Count, and look for duplicates, with the source offset every output carries.
        var seen = Set<String>()
        var duplicates = 0
        var total = 0
        var badTotal = 0
        for topic in ["predictions", "dead-letters"] {
            for record in try logRecords(dir, topic) {
                let source = (record.headers["src-partition"] ?? "?") + "/" + (record.headers["src-offset"] ?? "?")
                if !seen.insert(source).inserted { duplicates += 1 }
                total += 1
                if topic == "dead-letters" { badTotal += 1 }
            }
        }
        #expect(duplicates == 0)
        #expect(total == 200_000, "predictions + dead letters = \(total)")
        #expect(badTotal == 2_000)
    }

    func outputs(_ dir: String) throws -> Int64 {
        let log = try EventLog.open(directory: dir, configuration: .init(readOnly: true))
        return try log.topic("predictions").recordCount
    }
}
