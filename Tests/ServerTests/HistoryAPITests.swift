import Foundation
import HTTPTypes
import Historian
import Plant
import Testing

@testable import Server

/// Trends, alert history and exports from the historian over the API: buckets as the store gives them, a raw CSV
/// export streamed day by day, the engineer role for exports, and clear errors.
@Suite struct HistoryAPITests {
    @Test func trendsAlertsAndExports() async throws {
        let t = try TestServer()
        defer { t.remove() }
        let store = try #require(t.historian)
        let machine = "plant1/line1/m01"
        let start: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
        var batch = HistorianBatch()
        // Three days, one reading a minute: torque climbs by 0.01 a minute, risk follows the hour.
        for m in 0..<(3 * 1_440) {
            let ms = start + Int64(m) * 60_000
            batch.samples.append(
                HistorySample(machine: machine, variable: "torque_nm", millis: ms, value: 40 + Double(m) / 100))
            batch.samples.append(
                HistorySample(machine: machine, variable: "risk", millis: ms, value: Double(m % 60) / 60))
        }
        try store.write(batch)
        let viewer = t.token[.viewer]!
        let engineer = t.token[.engineer]!
        let from = Timestamp.format(start)
        let to = Timestamp.format(start + 3 * 86_400_000)
        try await t.test { client in
            let catalog = try await client.call(.get, "/api/history/catalog", token: viewer)
            #expect((catalog.json["machines"] as? [String: [String]])?[machine] == ["risk", "torque_nm"])
            let trend = try await client.call(
                .get, "/api/history?machine=\(machine)&variables=torque_nm,risk&from=\(from)&to=\(to)&points=72",
                token: viewer)
            #expect(trend.status == .ok, "\(trend.text)")
            let series = trend.json["series"] as? [[String: Any]] ?? []
            #expect(series.count == 2)
            // 72 points over three days: hourly buckets from the hourly rollup, 60 readings each.
            let torque = series.first ?? [:]
            #expect(torque["source"] as? String == "1h" && torque["resolution_ms"] as? Int == 3_600_000)
            #expect((torque["count"] as? [Int]) == [Int](repeating: 60, count: 72))
            #expect((torque["min"] as? [Double])?.first == 40 && (torque["max"] as? [Double])?.first == 40.59)
            #expect(abs(((torque["mean"] as? [Double])?.first ?? 0) - 40.295) < 1e-9)
            #expect((torque["t"] as? [String])?[1] == "2026-01-01T01:00:00.000Z")

            // A raw export, streamed a day at a time: one row per minute, both variables.
            let forbidden = try await client.call(
                .get, "/api/export?machine=\(machine)&variables=torque_nm&from=\(from)&to=\(to)", token: viewer)
            #expect(forbidden.status == .forbidden)
            let csv = try await client.call(
                .get, "/api/export?machine=\(machine)&variables=torque_nm,risk&from=\(from)&to=\(to)", token: engineer)
            #expect(csv.status == .ok, "\(csv.text.prefix(300))")
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition]?.hasPrefix("attachment; filename=\"plant1_line1_m01-") == true)
            let lines = csv.text.split(separator: "\n")
            #expect(lines.count == 1 + 3 * 1_440)
            #expect(lines.first == "time,torque_nm,risk")
            #expect(lines.dropFirst().first == "2026-01-01T00:00:00.000Z,40,0")
            #expect(lines.last == "2026-01-03T23:59:00.000Z,83.19,0.9833333333333333")

            // Bad requests say what is wrong.
            let noMachine = try await client.call(.get, "/api/history?variables=risk", token: viewer)
            #expect(noMachine.status == .badRequest && noMachine.text.contains("name the machine"))
            let badTime = try await client.call(
                .get, "/api/history?machine=m&variables=risk&from=yesterday", token: viewer)
            #expect(badTime.status == .badRequest && badTime.text.contains("from 'yesterday'"))
            let badFormat = try await client.call(
                .get, "/api/export?machine=m&variables=risk&format=xls", token: engineer)
            #expect(badFormat.status == .badRequest)
        }
        // Without a historian: 503, saying how to have one.
        let bare = try TestServer(historian: false)
        defer { bare.remove() }
        let bareViewer = bare.token[.viewer]!
        try await bare.test { client in
            let none = try await client.call(.get, "/api/history/catalog", token: bareViewer)
            #expect(none.status == .serviceUnavailable && none.text.contains("--historian FILE"))
        }
    }
}
