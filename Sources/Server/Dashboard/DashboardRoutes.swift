import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Primitives

/// One of the dashboard's files (Sources/Server/Dashboard/Assets, embedded in the binary by SwiftPM), with its
/// content type and an entity tag from its bytes: browsers revalidate each load and get 304 until the server changes.
struct DashboardAsset: Sendable {
    let bytes: [UInt8]
    let type: String
    let etag: String

    init(_ bytes: [UInt8], type: String) {
        self.bytes = bytes
        self.type = type
        etag = "\"" + SHA256.hash(data: bytes).prefix(16).hexString + "\""
    }

    static let index = DashboardAsset(PackageResources.index_html, type: "text/html; charset=utf-8")
    static let script = DashboardAsset(PackageResources.app_js, type: "text/javascript; charset=utf-8")
    static let style = DashboardAsset(PackageResources.app_css, type: "text/css; charset=utf-8")
    static let signIn = DashboardAsset(PackageResources.login_html, type: "text/html; charset=utf-8")
    static let signInStyle = DashboardAsset(PackageResources.login_css, type: "text/css; charset=utf-8")
}

/// The live dashboard at `/`, served by the app itself (plants are often offline: no CDN), and its sign-in: a form
/// that POSTs the token, answered with a session cookie (the token never travels in a URL, so it stays out of
/// history, proxies' logs and Referer headers).
struct DashboardRoutes {
    let tokens: TokenStore
    let secureCookies: Bool
    let maxBodyBytes: Int

    func register(on routes: inout RouteTable) {
        routes.add(.get, "/", role: .viewer, "The live dashboard (a browser without a session gets the sign-in form)") {
            request, _ in Self.serve(.index, request)
        }
        routes.add(.get, "/app.js", role: .viewer, "The dashboard's script") { request, _ in
            Self.serve(.script, request)
        }
        routes.add(.get, "/app.css", role: .viewer, "The dashboard's style sheet") { request, _ in
            Self.serve(.style, request)
        }
        routes.add(.get, "/login.css", role: nil, "The sign-in form's style sheet") { request, _ in
            Self.serve(.signInStyle, request)
        }
        routes.add(.post, "/login", role: nil, "Sign a browser in: form field token; sets the session cookie") {
            request, _ in try await signIn(request)
        }
        routes.add(.post, "/logout", role: nil, "Sign a browser out: clears the session cookie") { _, _ in
            Response(
                status: .seeOther,
                headers: [.location: "/", .setCookie: cookie(value: "", maxAge: 0), .cacheControl: "no-store"])
        }
    }

    /// `token=ms_...` from the form: a valid token gets the cookie and goes to the dashboard; anything else gets the
    /// form again with what was wrong.
    private func signIn(_ incoming: Request) async throws -> Response {
        var request = incoming
        let body = String(decoding: Array(buffer: try await request.collectBody(upTo: maxBodyBytes)), as: UTF8.self)
        guard let token = Self.formField("token", in: body), !token.isEmpty else {
            return Self.signInForm(problem: "Enter an access token.")
        }
        switch tokens.verify(token.trimmingCharacters(in: .whitespaces)) {
        case .valid:
            return Response(
                status: .seeOther,
                headers: [.location: "/", .setCookie: cookie(value: token, maxAge: 43_200), .cacheControl: "no-store"])
        case .expired(let identity):
            return Self.signInForm(problem: "The token '\(identity.name)' has expired; ask an admin for a new one.")
        case .unknown:
            return Self.signInForm(problem: "That token is not valid (unknown, revoked or mistyped).")
        }
    }

    /// A field of an `application/x-www-form-urlencoded` body; nil when absent or not validly encoded.
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0] == name else { continue }
            return parts.count == 2 ? parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding : ""
        }
        return nil
    }

    private func cookie(value: String, maxAge: Int) -> String {
        var cookie = "\(AuthMiddleware.cookieName)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)"
        if secureCookies { cookie += "; Secure" }
        return cookie
    }

    /// The sign-in form (401), with a problem to show if there is one.
    static func signInForm(problem: String? = nil) -> Response {
        var page = String(decoding: DashboardAsset.signIn.bytes, as: UTF8.self)
        if let problem {
            let escaped = problem.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(
                of: "<", with: "&lt;"
            )
            .replacingOccurrences(of: ">", with: "&gt;")
            page = page.replacingOccurrences(of: "<!--problem-->", with: "<p class=\"problem\">\(escaped)</p>")
        }
        return response(Array(page.utf8), type: DashboardAsset.signIn.type, status: .unauthorized, etag: nil)
    }

    /// An asset, or 304 when the browser's copy (If-None-Match) is current.
    static func serve(_ asset: DashboardAsset, _ request: Request) -> Response {
        let current = request.headers[.ifNoneMatch].map { header in
            header.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == asset.etag || $0 == "*" }
        }
        if current == true {
            return response([], type: asset.type, status: .notModified, etag: asset.etag)
        }
        return response(asset.bytes, type: asset.type, status: .ok, etag: asset.etag)
    }

    static func response(_ bytes: [UInt8], type: String, status: HTTPResponse.Status, etag: String?) -> Response {
        var headers: HTTPFields = [
            .contentType: type,
            // Revalidate on every load (a new server version shows at once), but send the bytes only when changed.
            .cacheControl: etag == nil ? "no-store" : "no-cache",
            .contentSecurityPolicy: "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("X-Frame-Options")!: "DENY",
        ]
        if let etag { headers[.eTag] = etag }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
