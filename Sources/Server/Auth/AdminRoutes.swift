import Foundation
import Hummingbird

/// Tokens and the audit log, for admins; `whoami` for everyone.
struct AdminRoutes {
    let tokens: TokenStore
    let audit: AuditLog
    let maxBodyBytes: Int

    func register(on routes: inout RouteTable) {
        routes.add(.get, "/api/whoami", role: .viewer, "The caller's token name and role") { _, c in
            JSON.response([
                "name": c.identity?.name ?? "", "role": c.identity?.role.rawValue ?? "",
                "token": c.identity?.tokenID ?? "",
            ])
        }
        routes.add(
            .get, "/api/tokens", role: .admin, "Every token (id, name, role, created, expires; never the secret)"
        ) {
            _, _ in
            JSON.response([
                "tokens": tokens.entries.map { e -> [String: Any] in
                    [
                        "id": e.id, "name": e.name, "role": e.role.rawValue, "created": e.created,
                        "expires": e.expires.map {
                            ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0))
                        }
                            ?? NSNull(),
                    ]
                }
            ])
        }
        routes.add(
            .post, "/api/tokens", role: .admin,
            "Create a token (body {\"name\", \"role\", \"days\"}); the answer holds the token, shown this once",
            changesState: true, audit: audit
        ) { request, _ in
            var request = request
            let body = try JSON.object(try await request.collectBody(upTo: maxBodyBytes))
            guard let name = body["name"] as? String else { throw APIError.badRequest("name (a string) is required") }
            guard let roleText = body["role"] as? String else {
                throw APIError.badRequest("role is required: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let role: Role
            do { role = try Role(parsing: roleText) } catch { throw APIError.badRequest("\(error)") }
            var validFor: Duration?
            if let days = body["days"] {
                guard let d = JSON.number(days), d > 0, d <= 3650 else {
                    throw APIError.badRequest("days must be a number from 1 to 3650")
                }
                validFor = .seconds(d * 86_400)
            }
            let token: String
            do {
                token = try tokens.create(name: name, role: role, validFor: validFor)
            } catch let error as TokenError where error.kind == .invalidRequest {
                throw APIError.badRequest(error.message)
            }
            return JSON.response(["token": token, "name": name, "role": role.rawValue], status: .created)
        }
        routes.add(.delete, "/api/tokens/{id}", role: .admin, "Revoke a token", changesState: true, audit: audit) {
            _, c in
            let id = try c.parameters.require("id")
            guard try tokens.revoke(id: id) else { throw APIError.notFound("no token with id '\(id)'") }
            return JSON.response(["revoked": id])
        }
        routes.add(.get, "/api/audit", role: .admin, "The newest audit entries (who did what, when)") { _, _ in
            JSON.response(["entries": Array(audit.entries.reversed())])
        }
    }
}
