import HTTPTypes
import Hummingbird
import NIOCore

/// The live dashboard at `/`, served by the app itself (plants are often offline: no CDN).
struct DashboardRoutes {
    let secureCookies: Bool

    func register(on routes: inout RouteTable) {
        routes.add(.get, "/", role: .viewer, "The live dashboard (GET /?token=... signs a browser in)") { request, _ in
            if request.uri.queryParameters["token"] != nil, let token = AuthMiddleware.presentedToken(request) {
                // Signed in by the link: keep the token in a cookie and drop it from the address bar.
                var cookie = "\(AuthMiddleware.cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"
                if secureCookies { cookie += "; Secure" }
                return Response(
                    status: .seeOther, headers: [.location: "/", .setCookie: cookie, .cacheControl: "no-store"])
            }
            return Self.page(DashboardPage.html, type: "text/html; charset=utf-8")
        }
        routes.add(.get, "/app.js", role: .viewer, "The dashboard's script") { _, _ in
            Self.page(DashboardPage.js, type: "text/javascript; charset=utf-8")
        }
        routes.add(.get, "/app.css", role: .viewer, "The dashboard's style sheet") { _, _ in
            Self.page(DashboardPage.css, type: "text/css; charset=utf-8")
        }
    }

    static func page(_ text: String, type: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: type, .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("X-Frame-Options")!: "DENY",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
