import Bus
import BusEmbedded
import Foundation
import HTTPTypes
import Historian
import Hummingbird
import HummingbirdTesting
import Learn
import NIOCore
import Plant
import Registry
import Testing

@testable import Server

/// A server on a temporary embedded bus and registry, with a token of every role (and broken ones), for
/// in-process tests through Hummingbird's router test client.
struct TestServer {
    let directory: String
    let bus: EmbeddedBus
    let registry: ModelRegistry
    let tokens: TokenStore
    let audit: AuditLog
    let view: PlantView
    let metrics: ServerMetrics
    let ready = ReadyFlag()
    let server: MillstreamServer
    /// The historian the server reads (written by the tests directly).
    let historian: SQLiteHistorian?
    /// A valid token per role.
    let token: [Role: String]
    let expired: String
    let forged: String

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../LearnTests/Fixtures").standardized

    init(maxBodyBytes: Int = 64 * 1024, historian withHistorian: Bool = true, grpcPort: Int? = nil) throws {
        directory = NSTemporaryDirectory() + "millstream-server-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        bus = try EmbeddedBus(url: BusURL("embedded://\(directory)/data"))
        registry = try ModelRegistry(root: directory + "/models")
        tokens = try TokenStore(path: directory + "/tokens.json")
        var token: [Role: String] = [:]
        for role in Role.allCases { token[role] = try tokens.create(name: "test-\(role.rawValue)", role: role) }
        self.token = token
        expired = try tokens.create(
            name: "old", role: .admin, validFor: .seconds(60), now: Date(timeIntervalSinceNow: -3600))
        // The admin token with one character of its secret changed.
        var chars = Array(token[.admin]!)
        chars[chars.count - 1] = chars[chars.count - 1] == "0" ? "1" : "0"
        forged = String(chars)
        audit = try AuditLog(path: directory + "/audit.log")
        metrics = ServerMetrics(version: "test")
        view = PlantView(process: .milling(), metrics: metrics)
        var options = ServerOptions()
        options.maxBodyBytes = maxBodyBytes
        options.grpcPort = grpcPort
        let historian = withHistorian ? try SQLiteHistorian(path: directory + "/history.sqlite") : nil
        self.historian = historian
        server = MillstreamServer(
            options: options, bus: bus, registry: registry, tokens: tokens, audit: audit, view: view, metrics: metrics,
            ready: ready, historian: historian)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// Registers a Keras model converted by tf2onnx (the Learn tests' fixtures) as `name`.
    @discardableResult
    func importKeras(_ fixture: String, as name: String, task: ModelFile.Task) throws -> ModelVersion {
        let bytes = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("keras_\(fixture).onnx")))
        let graph = try ONNXModel(bytes: bytes, source: fixture)
        let outputs = try graph.predict(Tensor(rows: 1, columns: graph.inputSize!)).columns
        let description = ModelFile.Description(
            task: task, inputSize: graph.inputSize!, outputSize: outputs, layers: [], preprocessing: nil, target: "",
            classes: task == .binary ? ["0", "1"] : (0..<outputs).map(String.init), threshold: 0.5,
            metadata: .init(
                created: "2026-12-01T00:00:00Z", datasetSHA256: nil, hyperparameters: [:], codeVersion: "test",
                source: "onnx import"))
        return try registry.register(ModelFile(description: description, onnx: bytes), as: name)
    }

    /// TensorFlow's own outputs for the fixture's inputs (keras_outputs.json).
    static func tensorFlow(_ fixture: String) throws -> (inputs: [[Double]], outputs: [[Double]]) {
        let all =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: fixtures.appendingPathComponent("keras_outputs.json"))) as! [String: Any]
        let c = all[fixture] as! [String: Any]
        return (c["inputs"] as! [[Double]], c["outputs"] as! [[Double]])
    }

    func test<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await server.application().test(.router, body)
    }
}

extension TestClientProtocol {
    /// A request with a bearer token (nil: none) and a JSON body.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, json: Any? = nil, raw: [UInt8]? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
            headers[.contentType] = "application/json"
        } else if let raw {
            body = ByteBuffer(bytes: raw)
            headers[.contentType] = "application/json"
        }
        return try await executeRequest(uri: uri, method: method, headers: headers, body: body)
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }
    var text: String { String(buffer: body) }
}
