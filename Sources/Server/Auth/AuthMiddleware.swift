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
        // Another scheme is not valid here.
        if let header = request.headers[.authorization] { return bearerToken(header) ?? "" }
        if let cookie = request.cookies[cookieName] { return cookie.value }
        return nil
    }

    /// The credentials of an `Authorization: Bearer ...` header (the scheme in any case, spaces and tabs around the
    /// token dropped); nil for another scheme. On the header's bytes: Foundation's trimming through NSString was
    /// 4.5 % of a predict request's time.
    static func bearerToken(_ header: String) -> String? {
        let bytes = header.utf8
        let scheme = "bearer".utf8
        guard bytes.count > scheme.count,
            zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }),
            bytes.dropFirst(scheme.count).first == UInt8(ascii: " ")
        else { return nil }
        func blank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
        let rest = bytes.dropFirst(scheme.count + 1)
        guard let first = rest.firstIndex(where: { !blank($0) }) else { return "" }
        let last = rest.lastIndex(where: { !blank($0) })!
        return String(header[first...last])
    }
}
