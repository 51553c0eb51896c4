import Foundation
import HTTPTypes
import Hummingbird

/// Finds who is calling: a bearer token (`Authorization: Bearer ms_...`) or the dashboard's session cookie.
/// It refuses nothing itself; each route checks the role it needs (`RouteTable`).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    static let cookieName = "millstream_token"

    let tokens: TokenStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        if let presented = Self.presentedToken(request) {
            switch tokens.verify(presented) {
            case .valid(let identity):
                context.identity = identity
                context.logger[metadataKey: "user"] = .string(identity.name)
            case .expired(let identity):
                context.credentialProblem = "the token '\(identity.name)' has expired; ask an admin for a new one"
            case .unknown:
                context.credentialProblem = "the token is not valid (unknown, revoked or altered)"
            }
        }
        return try await next(request, context)
    }

    /// The bearer token, else the dashboard's session cookie. Never the URL: a token in a query string ends up in
    /// browser history, proxies' logs and Referer headers.
    static func presentedToken(_ request: Request) -> String? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
            return ""  // some other scheme: not valid here
        }
        if let cookie = request.cookies[cookieName] { return cookie.value }
        return nil
    }
}
