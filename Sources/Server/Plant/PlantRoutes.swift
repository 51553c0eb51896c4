import Bus
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Plant
import Primitives
import ServiceLifecycle
import Topics

/// The plant API: machines, alerts (acknowledge, clear), KPIs, SPC charts, model monitoring, live events.
struct PlantRoutes {
    let view: PlantView
    let bus: any MessageBus
    let audit: AuditLog
    let maxBodyBytes: Int

    /// Path parameters arrive percent-encoded (machine and alert ids hold slashes: `plant1%2Fline1%2Fm07`).
    static func parameter(_ context: ServerContext, _ name: String) throws -> String {
        let raw = try context.parameters.require(name)
        return raw.removingPercentEncoding ?? raw
    }

    /// `status`, `machine` (percent-decoded) and `limit` (1...maximum, default 100) of a list route.
    static func listQuery(_ request: Request, maximum: Int) throws -> (status: String?, machine: String?, limit: Int) {
        let q = request.uri.queryParameters
        let limitText = q["limit"].map(String.init) ?? "100"
        guard let limit = Int(limitText), (1...maximum).contains(limit) else {
            throw APIError.badRequest("limit must be a number from 1 to \(maximum), got '\(limitText)'")
        }
        return (
            q["status"].map(String.init), q["machine"].map { String($0).removingPercentEncoding ?? String($0) }, limit
        )
    }

    func register(on routes: inout RouteTable) {
        registerMachines(on: &routes)
        registerAlerts(on: &routes)
        registerFigures(on: &routes)
        registerRecommendations(on: &routes)
    }

    /// The plant summary, the machines, their trends and control charts.
    private func registerMachines(on routes: inout RouteTable) {
        let view = self.view
        routes.add(.get, "/api/summary", role: .viewer, "Plant summary: machines by state, OEE, alerts, latency") {
            _, _ in
            Self.json(await view.summaryJSON())
        }
        routes.add(.get, "/api/machines", role: .viewer, "Every machine with its latest state, risk and OEE") { _, _ in
            Self.json(await view.machinesJSON())
        }
        routes.add(
            .get, "/api/machines/{id}", role: .viewer, "One machine: features, KPIs, risk history, sensor trends"
        ) {
            _, c in
            Self.json(try await view.machineJSON(try Self.parameter(c, "id")))
        }
        routes.add(
            .get, "/api/machines/{id}/spc/{variable}", role: .viewer,
            "Individuals control chart of a variable with rule violations and Cp/Cpk"
        ) { request, c in
            let rules = request.uri.queryParameters["rules"].map(String.init)
            return Self.json(
                try await view.spcJSON(
                    machine: try Self.parameter(c, "id"), variable: try Self.parameter(c, "variable"), rules: rules))
        }
    }

    /// The alerts and operators' actions on them.
    private func registerAlerts(on routes: inout RouteTable) {
        let view = self.view
        routes.add(
            .get, "/api/alerts", role: .viewer, "Alerts, newest first (status=raised|cleared|all, machine, limit)"
        ) {
            request, _ in
            let (status, machine, limit) = try Self.listQuery(request, maximum: 5_000)
            return Self.json(try await view.alertsJSON(status: status, machine: machine, limit: limit))
        }
        routes.add(.get, "/api/alerts/{id}", role: .viewer, "One alert with its evidence") { _, c in
            Self.json(try await view.alertJSON(try Self.parameter(c, "id")))
        }
        for verb in ["acknowledge", "clear", "shelve"] {
            routes.add(
                .post, "/api/alerts/{id}/\(verb)", role: .operator,
                verb == "shelve"
                    ? "Shelve an active alert for {minutes} (1-480, default 60): off the active list, its repeats not annunciated (recorded on alert-actions)"
                    : "\(verb.capitalized) an alert (recorded on alert-actions)",
                changesState: true, audit: audit
            ) { request, c in
                try await self.act(verb, try Self.parameter(c, "id"), request, c)
            }
        }
    }

    /// The alarm-system KPIs, OEE, model outcomes and the live event stream.
    private func registerFigures(on routes: inout RouteTable) {
        let view = self.view
        routes.add(
            .get, "/api/alarms", role: .viewer,
            "Alarm-system KPIs over the last hours (hours=24): per operator per 10 min, floods, chattering, standing, suppressed, shelved, top 10, the failure forecast's precision and recall"
        ) { request, _ in
            let text = request.uri.queryParameters["hours"].map(String.init)
            var hours = 24.0
            if let text {
                guard let h = Double(text), h > 0, h <= 168 else {
                    throw APIError.badRequest("hours must be a number above 0 and at most 168, got '\(text)'")
                }
                hours = h
            }
            return Self.json(await view.alarmsJSON(hours: hours))
        }
        routes.add(.get, "/api/kpis", role: .viewer, "OEE per machine and line, downtime reasons Pareto") { _, _ in
            Self.json(await view.kpisJSON())
        }
        routes.add(.get, "/api/monitoring", role: .viewer, "Model outcomes against labels: precision, recall, F1") {
            _, _ in
            Self.json(await view.monitoringJSON())
        }
        routes.add(
            .get, "/api/events", role: .viewer,
            "Server-sent events: the live plant every second (events=N stops after N)"
        ) {
            request, _ in
            let text = request.uri.queryParameters["events"].map(String.init)
            var count = 3_600
            if let text {
                guard let n = Int(text), (1...3_600).contains(n) else {
                    throw APIError.badRequest("events must be a number from 1 to 3600, got '\(text)'")
                }
                count = n
            }
            return Self.events(view, count: count)
        }
    }

    /// Validates the action against the view, writes it to the `alert-actions` topic (durable), then applies it.
    private func act(_ verb: String, _ id: String, _ request: Request, _ context: ServerContext) async throws
        -> Response
    {
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        var note: String?
        var minutes = 60.0
        if body.readableBytes > 0 {
            let object = try JSON.object(body)
            if let n = object["note"] {
                guard let s = n as? String, s.count <= 1_000 else {
                    throw APIError.badRequest("note must be a string of at most 1000 characters")
                }
                note = s
            }
            if let m = object["minutes"] {
                guard verb == "shelve", let n = m as? NSNumber, String(cString: n.objCType) != "c",
                    (1...480).contains(n.doubleValue)
                else {
                    throw APIError.badRequest(
                        verb == "shelve" ? "minutes must be a number from 1 to 480" : "only shelve takes minutes")
                }
                minutes = n.doubleValue
            }
        }
        try await view.check(action: verb, alert: id)
        let who = context.identity?.name ?? "?"
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        let action = AlertActionRecord(
            id: UUID().uuidString, alert: id, action: verb, by: who, ts: Timestamp.format(now), note: note,
            minutes: verb == "shelve" ? minutes : nil,
            until: verb == "shelve" ? Timestamp.format(now + Int64(minutes * 60_000)) : nil)
        let bytes = action.encoded()
        do {
            let producer = try await bus.producer()
            _ = try await producer.send(
                [Record(key: Array(id.utf8), value: bytes, timestamp: Int64(Date().timeIntervalSince1970 * 1000))],
                to: Topics.alertActions.name)
            try await producer.flush()
        } catch {
            throw APIError(
                .serviceUnavailable, "the action could not be recorded on \(bus.url) (\(error)); nothing was changed")
        }
        await view.record(action: action)
        return Self.json(try await view.alertJSON(id))
    }

    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A stream of the live plant, one event a second, `count` events (at most an hour; browsers reconnect by themselves).
    static func events(_ view: PlantView, count: Int) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-store",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: ResponseBody { writer in
                for sent in 0..<count {
                    if Task.isCancelled || Task.isShuttingDownGracefully { break }
                    if sent > 0 { try? await Task.sleep(for: .seconds(1)) }
                    var event = Array("event: plant\ndata: ".utf8)
                    event += await view.liveJSON()
                    event += Array("\n\n".utf8)
                    try await writer.write(ByteBuffer(bytes: event))
                }
                try await writer.finish(nil)
            })
    }
}
