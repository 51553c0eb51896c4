import HTTPTypes
import Hummingbird

/// One route of the API and the least role it needs (nil: open, for the health probes only).
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var method: HTTPRequest.Method
    /// The route pattern, e.g. `/api/alerts/{id}/acknowledge`.
    public var path: String
    public var role: Role?
    public var summary: String
    /// Whether it changes state (and so goes to the audit log).
    public var changesState: Bool

    public var description: String { "\(method) \(path)" }
}

/// Registers routes on the router with their role, and keeps the list (for the role matrix test and the docs).
struct RouteTable {
    let router: Router<ServerContext>
    private(set) var endpoints: [Endpoint] = []

    typealias Handler = @Sendable (Request, ServerContext) async throws -> Response

    init(router: Router<ServerContext>) { self.router = router }

    mutating func add(
        _ method: HTTPRequest.Method, _ path: String, role: Role?, _ summary: String, changesState: Bool = false,
        audit: AuditLog? = nil, handler: @escaping Handler
    ) {
        let endpoint = Endpoint(method: method, path: path, role: role, summary: summary, changesState: changesState)
        endpoints.append(endpoint)
        router.on(RouterPath(path), method: method) { request, context in
            if let role {
                guard let identity = context.identity else {
                    throw APIError.unauthorized(
                        context.credentialProblem
                            ?? "\(endpoint) needs a bearer token (role \(role.rawValue) or above): send Authorization: Bearer <token>"
                    )
                }
                guard identity.role >= role else {
                    throw APIError(
                        .forbidden,
                        "\(endpoint) needs role \(role.rawValue) or above; token '\(identity.name)' has role \(identity.role.rawValue)"
                    )
                }
            }
            let response = try await handler(request, context)
            if changesState, let audit, (200..<300).contains(response.status.code) {
                audit.record(
                    who: context.identity, action: "\(endpoint)", target: request.uri.path, requestID: context.id)
            }
            return response
        }
    }
}
