import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import Server

/// Every route x every role: allowed from its role up, 403 below it, 401 without a valid token (none, forged,
/// expired, revoked); only the health probes answer without one.
@Suite struct RoleMatrixTests {
    /// Concrete values for the route patterns; ids that exist nowhere, so allowed calls change nothing.
    static func uri(_ endpoint: Endpoint) -> String {
        var path = endpoint.path
        let values = [
            "{name}": endpoint.method == .post && endpoint.path == "/v1/models/{name}" ? "quality:predict" : "quality",
            "{version}": endpoint.method == .post && endpoint.path.hasSuffix("/versions/{version}") ? "1:predict" : "1",
            "{label}": endpoint.method == .post ? "production:predict" : "production",
            "{id}": endpoint.path.hasPrefix("/api/tokens") ? "00000000" : "plant1%2Fline1%2Fm99",
            "{variable}": "torque_nm",
        ]
        for (k, v) in values { path = path.replacingOccurrences(of: k, with: v) }
        if path == "/api/events" { path += "?events=1" }
        return path
    }

    static func body(_ endpoint: Endpoint) -> Any? {
        guard endpoint.method == .post else { return nil }
        if endpoint.path.hasPrefix("/v1/") { return ["instances": [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]]] }
        if endpoint.path == "/api/tokens" { return ["name": "matrix", "role": "viewer"] }
        if endpoint.path.hasSuffix("/promote") { return ["stage": "production"] }
        return [String: Any]()
    }

    @Test func everyRouteTimesEveryRole() async throws {
        let t = try TestServer()
        defer { t.remove() }
        try t.importKeras("softmax", as: "quality", task: .multiclass)
        try t.registry.promote("quality", version: 1, to: .production)
        t.ready.set()
        let revoked = try t.tokens.create(name: "gone", role: .admin)
        try t.tokens.revoke(id: String(revoked.split(separator: "_")[1]))
        let endpoints = t.server.endpoints
        #expect(endpoints.count >= 35)
        #expect(
            Set(endpoints.filter { $0.role == nil }.map(\.path))
                == ["/healthz", "/readyz", "/login", "/logout", "/login.css"])
        let (forged, expired, tokens) = (t.forged, t.expired, t.token)
        let bodies = endpoints.map {
            Self.body($0).map { try! JSONSerialization.data(withJSONObject: $0) }.map { [UInt8]($0) }
        }
        try await t.test { client in
            for (e, body) in zip(endpoints, bodies) {
                let uri = Self.uri(e)
                for (what, token) in [
                    ("no token", nil), ("forged token", forged), ("expired token", expired),
                    ("revoked token", revoked), ("garbage", "hello"),
                ] as [(String, String?)] {
                    let r = try await client.call(e.method, uri, token: token, raw: body)
                    if e.path == "/login" {
                        // The sign-in checks the token in its form body: none here, so the form comes back.
                        #expect(r.status == .unauthorized && r.text.contains("Enter an access token"), "\(e)")
                    } else if e.role == nil {
                        #expect(r.status != .unauthorized && r.status != .forbidden, "\(e) with \(what): \(r.status)")
                    } else {
                        #expect(r.status == .unauthorized, "\(e) with \(what): \(r.status) \(r.text)")
                        #expect((r.json["error"] as? String)?.isEmpty == false, "\(e) with \(what)")
                    }
                }
                for role in Role.allCases {
                    let r = try await client.call(e.method, uri, token: tokens[role]!, raw: body)
                    if e.path == "/login" {
                        #expect(r.status == .unauthorized, "\(e): a bearer header does not sign a browser in")
                    } else if let needed = e.role, role < needed {
                        #expect(r.status == .forbidden, "\(e) as \(role): \(r.status) \(r.text)")
                        #expect((r.json["error"] as? String)?.contains("needs role \(needed.rawValue)") == true)
                    } else {
                        #expect(
                            r.status != .unauthorized && r.status != .forbidden && r.status.code < 500,
                            "\(e) as \(role): \(r.status) \(r.text)")
                    }
                }
            }
            // The expired token's refusal says so.
            let r = try await client.call(.get, "/api/summary", token: expired)
            #expect((r.json["error"] as? String)?.contains("expired") == true)
            // A browser without a session gets the sign-in form.
            let page = try await client.call(.get, "/", token: nil, headers: [.accept: "text/html"])
            #expect(page.status == .unauthorized)
            #expect(page.text.contains("Access token"))
        }
    }

    /// docs/api.md lists every route with the role the server enforces.
    @Test func apiReferenceNamesEveryRoutesRole() throws {
        let t = try TestServer()
        defer { t.remove() }
        let doc = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "../../docs/api.md"),
            encoding: .utf8)
        var documented: Set<String> = []
        for line in doc.split(separator: "\n")
        where line.hasPrefix("| GET") || line.hasPrefix("| POST") || line.hasPrefix("| DELETE") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            documented.insert(
                "\(cells[0]) \(cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))) \(cells[2])")
        }
        let served = Set(t.server.endpoints.map { "\($0.method) \($0.path) \($0.role?.rawValue ?? "none")" })
        #expect(
            served == documented,
            "served, not documented: \(served.subtracting(documented).sorted()); documented, not served: \(documented.subtracting(served).sorted())"
        )
    }

    /// The OpenAPI document lists exactly the server's routes, each once.
    @Test func openAPIDocumentListsEveryRoute() throws {
        let t = try TestServer()
        defer { t.remove() }
        var documented: Set<String> = []
        var path: String?
        for line in OpenAPIDocument.yaml.split(separator: "\n") {
            if line.hasPrefix("  /") { path = String(line.dropFirst(2).dropLast()) }
            for m in ["get", "post", "delete", "put", "patch"] where line == "    \(m):" {
                documented.insert("\(m.uppercased()) \(path!)")
            }
        }
        let served = Set(t.server.endpoints.map { "\($0.method) \($0.path)" })
        #expect(served.subtracting(documented).isEmpty, "not documented: \(served.subtracting(documented).sorted())")
        #expect(
            documented.subtracting(served).isEmpty, "documented, not served: \(documented.subtracting(served).sorted())"
        )
    }
}
