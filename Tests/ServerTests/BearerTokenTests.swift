import Foundation
import Testing

@testable import Server

/// The bearer token is read from the Authorization header's bytes as the Foundation version read it: the scheme in
/// any case, blanks around the token dropped, any other scheme refused.
@Suite struct BearerTokenTests {
    /// What the middleware did before reading bytes (split at the first space, `trimmingCharacters`), kept here as
    /// the reference.
    static func throughFoundation(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    @Test func readsAsFoundationDid() {
        let headers = [
            "Bearer ms_abc123", "bearer ms_abc123", "BEARER ms_abc123", "BeArEr ms_abc123", "Bearer   ms_abc123  ",
            "Bearer \tms_abc123\t", "Bearer ms abc", "Bearer ", "Bearer  ", "Bearer", "Bearerms_abc", "Basic dXNlcjpw",
            "Token ms_abc", "Bearer\tms_abc", "", "Bearer é-ü", "bearer x", "Bearers ms_abc",
        ]
        for header in headers {
            // The middleware presents "" for a header without a token (refused as not valid), as it did.
            #expect(
                (AuthMiddleware.bearerToken(header) ?? "") == (Self.throughFoundation(header) ?? ""),
                "\(header.debugDescription)")
        }
    }

    @Test func aTokenReadsBackWhole() {
        #expect(AuthMiddleware.bearerToken("Bearer ms_0123456789abcdef") == "ms_0123456789abcdef")
        #expect(AuthMiddleware.bearerToken("bearer  ms_x ") == "ms_x")
        #expect(AuthMiddleware.bearerToken("Basic abc") == nil)
    }
}

/// The request and predict metrics, now made once and kept, count every request under its own labels.
@Suite struct RequestMetricsTests {
    @Test func requestsAreCountedByRouteMethodAndStatus() async throws {
        let t = try TestServer()
        defer { t.remove() }
        try t.importKeras("binary", as: "binary", task: .binary)
        let (inputs, _) = try TestServer.tensorFlow("binary")
        let viewer = t.token[.viewer]!
        try await t.test { client in
            for _ in 0..<3 {
                let r = try await client.call(
                    .post, "/v1/models/binary:predict", token: viewer, json: ["instances": inputs])
                #expect(r.status == .ok, "\(r.text)")
            }
            let bad = try await client.call(.post, "/v1/models/binary:predict", token: viewer, json: ["x": 1])
            #expect(bad.status == .badRequest)
            let anonymous = try await client.call(.post, "/v1/models/binary:predict", token: nil, json: ["x": 1])
            #expect(anonymous.status == .unauthorized)
        }
        let text = String(decoding: t.metrics.text(), as: UTF8.self)
        func value(_ prefix: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap {
                Double($0.split(separator: " ").last!)
            }
        }
        let route = #"route="/v1/models/{name}",method="POST""#
        #expect(value(#"millstream_http_request_duration_seconds_count{\#(route),status="200"}"#) == 3, "\(text)")
        #expect(value(#"millstream_http_request_duration_seconds_count{\#(route),status="400"}"#) == 1)
        #expect(value(#"millstream_http_request_duration_seconds_count{\#(route),status="401"}"#) == 1)
        #expect(value("millstream_predict_instances_total") == Double(3 * inputs.count))
        #expect(value("millstream_scoring_latency_seconds_count") == 3)
    }
}
