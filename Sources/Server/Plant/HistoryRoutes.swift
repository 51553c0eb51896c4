import Foundation
import Historian
import Hummingbird
import NIOCore
import Plant

/// Long-range history from the historian (`serve --historian FILE`): trends downsampled to min, max and mean per
/// bucket, alert history, and streamed CSV or JSON exports (engineer). Without a historian they answer 503 and say
/// how to configure one.
struct HistoryRoutes {
    let historian: (any HistorianStore)?

    func register(on routes: inout RouteTable) {
        let historian = self.historian
        routes.add(.get, "/api/history/catalog", role: .viewer, "The historian's machines and their variables") {
            _, _ in
            let store = try Self.store(historian)
            return JSON.response(["machines": try await Self.run { try await store.catalog() }])
        }
        routes.add(
            .get, "/api/history", role: .viewer,
            "A machine's variables over a time range: raw, or min, max and mean in at most `points` buckets"
        ) { request, _ in
            let store = try Self.store(historian)
            let query = try Self.query(request, defaultPoints: 1_000)
            let series = try await Self.run { try await store.series(query) }
            return JSON.response([
                "machine": query.machine, "from": Timestamp.format(query.from), "to": Timestamp.format(query.to),
                "series": series.map(HistoryExport.dictionary),
            ])
        }
        routes.add(.get, "/api/history/alerts", role: .viewer, "Alert records over a time range, newest first") {
            request, _ in
            let store = try Self.store(historian)
            let (machine, from, to) = try Self.range(request)
            let limit = try Self.integer(request, "limit", default: 1_000, range: 1...100_000)
            let alerts = try await Self.run {
                try await store.alerts(machine: machine, from: from, to: to, limit: limit)
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: "{\"alerts\":" + HistoryExport.json(alerts) + "}")))
        }
        routes.add(
            .get, "/api/export", role: .engineer,
            "A machine's history (or `kind=alerts`) as a streamed CSV or JSON download"
        ) { request, _ in
            let store = try Self.store(historian)
            return try await Self.export(store, request)
        }
    }

    /// Raw exports are streamed a day at a time, so a year of values never sits in memory whole; bucketed ones are
    /// at most `points` rows per variable.
    static func export(_ store: any HistorianStore, _ request: Request) async throws -> Response {
        let name = request.uri.queryParameters["format"].map(String.init) ?? "csv"
        guard let format = ExportFormat(rawValue: name) else {
            throw APIError.badRequest("format must be csv, json or parquet, got '\(name)'")
        }
        let kind = request.uri.queryParameters["kind"].map(String.init) ?? "history"
        let stamp = Timestamp.format(Timestamp.now()).replacingOccurrences(of: ":", with: "")
        func download(_ file: String) -> HTTPFields {
            [.contentType: format.contentType, .contentDisposition: "attachment; filename=\"\(file).\(name)\""]
        }
        if kind == "alerts" {
            let (machine, from, to) = try range(request)
            let alerts = try await run { try await store.alerts(machine: machine, from: from, to: to, limit: Int.max) }
            return Response(
                status: .ok, headers: download("alerts-\(stamp)"),
                body: .init(byteBuffer: ByteBuffer(bytes: HistoryExport.file(alerts, format: format))))
        }
        guard kind == "history" else { throw APIError.badRequest("kind must be history or alerts, got '\(kind)'") }
        let query = try query(request, defaultPoints: 0)
        let headers = download("\(query.machine.replacingOccurrences(of: "/", with: "_"))-\(stamp)")
        // JSON and Parquet are whole documents (Parquet's footer comes last); CSV of raw values is streamed.
        if format != .csv || query.points > 0 {
            let series = try await run { try await store.series(query) }
            return Response(
                status: .ok, headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: HistoryExport.file(series, query: query, format: format))))
        }
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var header = false
                var start = query.from
                while start < query.to, !Task.isCancelled {
                    let end = min(query.to, start + 86_400_000)
                    var day = query
                    day.from = start
                    day.to = end
                    let series = try await store.series(day)
                    if !header {
                        try await writer.write(ByteBuffer(string: HistoryExport.csvHeader(series, raw: true)))
                        header = true
                    }
                    let rows = HistoryExport.csvRows(series, raw: true)
                    if !rows.isEmpty { try await writer.write(ByteBuffer(string: rows)) }
                    start = end
                }
                try await writer.finish(nil)
            })
    }

    static func store(_ historian: (any HistorianStore)?) throws -> any HistorianStore {
        guard let historian else {
            throw APIError(
                .serviceUnavailable,
                "this server has no historian: run `millstream historian --bus URL --db FILE` and start the server with --historian FILE"
            )
        }
        return historian
    }

    /// A historian failure (a file gone, a disk error) is the server's, not the request's: 500, saying what.
    static func run<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw APIError(.internalServerError, "\(error)") }
    }

    static func query(_ request: Request, defaultPoints: Int) throws -> HistoryQuery {
        let (machine, from, to) = try range(request)
        guard let machine else { throw APIError.badRequest("name the machine: ?machine=plant1/line1/m01") }
        guard let variables = request.uri.queryParameters["variables"].map(String.init), !variables.isEmpty else {
            throw APIError.badRequest("name the variables, comma separated: &variables=torque_nm,risk")
        }
        let points = try integer(request, "points", default: defaultPoints, range: 0...100_000)
        do {
            return try HistoryQuery(
                machine: machine, variables: variables.split(separator: ",").map(String.init), from: from, to: to,
                points: points)
        } catch {
            throw APIError.badRequest(error.description)
        }
    }

    /// `machine` (optional here), `from` (default: a day before `to`) and `to` (default: now), as ISO 8601 times
    /// or milliseconds.
    static func range(_ request: Request) throws -> (machine: String?, from: Int64, to: Int64) {
        let q = request.uri.queryParameters
        func time(_ name: String) throws -> Int64? {
            guard let text = q[Substring(name)].map(String.init) else { return nil }
            guard let t = HistoryExport.parseTime(text.removingPercentEncoding ?? text) else {
                throw APIError.badRequest(
                    "\(name) '\(text)' is not an ISO 8601 time (2026-01-01T00:00:00Z) or milliseconds")
            }
            return t
        }
        let to = try time("to") ?? Timestamp.now() + 1
        let from = try time("from") ?? to - 86_400_000
        guard from < to else { throw APIError.badRequest("from must be before to") }
        let machine = q["machine"].map { String($0).removingPercentEncoding ?? String($0) }
        return (machine, from, to)
    }

    static func integer(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.uri.queryParameters[Substring(name)].map(String.init) else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw APIError.badRequest(
                "\(name) must be a number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return n
    }
}
