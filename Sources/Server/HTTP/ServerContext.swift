import Hummingbird
import Logging

/// The request context of Millstream's server: who is calling, once the auth middleware has looked.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller, from a bearer token or the dashboard's cookie; nil when none or not valid.
    public var identity: Identity?
    /// Why the presented credentials were refused (for the 401 message), if they were.
    public var credentialProblem: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Request bodies are collected by the handlers with their own limit (`ServerOptions.maxBodyBytes`).
    public var maxUploadSize: Int { ServerOptions.defaultMaxBodyBytes }
}
