import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error answered to the client as `{"error": "message"}` (the shape TensorFlow Serving uses for every error).
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        let body = JSON.encode(["error": message])
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }
    static func unauthorized(_ message: String) -> APIError {
        APIError(.unauthorized, message, headers: [.wwwAuthenticate: "Bearer realm=\"millstream\""])
    }
}

/// Turns every error a handler or Hummingbird throws into the `{"error": ...}` shape, so no client sees two.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            // A browser without a session asking for the dashboard gets the sign-in form.
            if error.status == .unauthorized, request.uri.path == "/",
                request.headers[.accept]?.contains("text/html") == true
            {
                return DashboardRoutes.signInForm(problem: context.credentialProblem)
            }
            throw error
        } catch let error as HTTPError {
            let message: String
            switch error.status {
            case .notFound: message = "no such route: \(request.method) \(request.uri.path)"
            case .contentTooLarge: message = "request body too large"
            case .methodNotAllowed: message = "\(request.method) is not allowed on \(request.uri.path)"
            default: message = error.body ?? error.status.reasonPhrase
            }
            throw APIError(error.status, message, headers: error.headers)
        } catch let error as NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "request body too large: at most \(error.maxBytes ?? 0) bytes")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw APIError(.internalServerError, "internal error (logged with request id \(context.id))")
        }
    }
}
