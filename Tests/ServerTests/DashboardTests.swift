import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Server

/// The dashboard's sign-in (a form POST, the token never in a URL) and its files (ETags, 304).
@Suite struct DashboardTests {
    static func form(_ token: String) -> [UInt8] {
        Array("token=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)".utf8)
    }

    @Test func aBrowserSignsInByPostAndTheCookieOpensTheDashboard() async throws {
        let t = try TestServer()
        defer { t.remove() }
        let (viewer, expired) = (t.token[.viewer]!, t.expired)
        try await t.test { client in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .accept: "text/html"]
            let signedIn = try await client.executeRequest(
                uri: "/login", method: .post, headers: form, body: ByteBuffer(bytes: Self.form(viewer)))
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/")
            let cookie = try #require(signedIn.headers[.setCookie])
            #expect(cookie.hasPrefix("millstream_token=\(viewer);") && cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Strict"))
            let session = String(cookie.split(separator: ";")[0])
            let page = try await client.executeRequest(uri: "/", method: .get, headers: [.cookie: session], body: nil)
            #expect(page.status == .ok && String(buffer: page.body).contains("<title>Millstream</title>"))

            // Wrong, expired or missing tokens get the form again, saying why; no cookie is set.
            for (token, says) in [("ms_nope", "not valid"), (expired, "expired"), ("", "Enter an access token")] {
                let r = try await client.executeRequest(
                    uri: "/login", method: .post, headers: form, body: ByteBuffer(bytes: Self.form(token)))
                #expect(r.status == .unauthorized && r.headers[.setCookie] == nil, "\(token)")
                #expect(String(buffer: r.body).contains(says), "\(token): \(String(buffer: r.body))")
            }
            // The old link form signs nobody in: a token in the URL is ignored.
            let link = try await client.executeRequest(
                uri: "/?token=\(viewer)", method: .get, headers: [.accept: "text/html"], body: nil)
            #expect(link.status == .unauthorized && link.headers[.setCookie] == nil)

            let out = try await client.executeRequest(
                uri: "/logout", method: .post, headers: [.cookie: session], body: nil)
            #expect(out.status == .seeOther && out.headers[.setCookie]?.contains("Max-Age=0") == true)
        }
    }

    @Test func assetsCarryETagsAndAnswer304WhenUnchanged() async throws {
        let t = try TestServer()
        defer { t.remove() }
        let viewer = t.token[.viewer]!
        try await t.test { client in
            for path in ["/", "/app.js", "/app.css"] {
                let first = try await client.call(.get, path, token: viewer)
                #expect(first.status == .ok && first.headers[.cacheControl] == "no-cache", "\(path)")
                let etag = try #require(first.headers[.eTag], "\(path)")
                #expect(etag.hasPrefix("\"") && etag.count == 34)
                let again = try await client.call(.get, path, token: viewer, headers: [.ifNoneMatch: etag])
                #expect(again.status == .notModified && again.body.readableBytes == 0, "\(path)")
                let stale = try await client.call(.get, path, token: viewer, headers: [.ifNoneMatch: "\"old\""])
                #expect(stale.status == .ok && stale.body.readableBytes > 500, "\(path)")
            }
            // Each file has its own tag; the script is the one in Sources/Server/Dashboard/Assets.
            let tags = Set([DashboardAsset.index, .script, .style, .signIn, .signInStyle].map(\.etag))
            #expect(tags.count == 5)
            let script = try String(
                contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                    "../../Sources/Server/Dashboard/Assets/app.js"),
                encoding: .utf8)
            #expect(DashboardAsset.script.bytes == Array(script.utf8))
        }
    }

    /// The files pass Biome's linter and formatter (scripts/lint-dashboard); a file with a lint error or out of format
    /// is refused (a copy with both, checked the same way).
    @Test func assetsPassTheLinterAndTheFormatter() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
            .standardized.path
        func lint(_ arguments: [String], in directory: String) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: repository + "/.venv/bin/biome")
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: output, as: UTF8.self))
        }
        let (status, output) = try lint(
            ["check", "--error-on-warnings", "Sources/Server/Dashboard/Assets"], in: repository)
        #expect(status == 0, "scripts/lint-dashboard: \(output)")
        #expect(output.contains("Checked 5 files"), "\(output)")
        // The same rules find real problems: an unused variable, and code out of format.
        let bad = NSTemporaryDirectory() + "lint-probe-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let configuration = try String(contentsOfFile: repository + "/biome.json", encoding: .utf8)
            .replacingOccurrences(
                of: #""includes": ["Sources/Server/Dashboard/Assets/**"]"#, with: #""includes": ["**"]"#)
        try configuration.write(toFile: bad + "/biome.json", atomically: true, encoding: .utf8)
        try "let unused = 1\nfunction f(){return  2}\nf();\n".write(
            toFile: bad + "/probe.js", atomically: true, encoding: .utf8)
        let (badStatus, badOutput) = try lint(["check", "--error-on-warnings", "probe.js"], in: bad)
        #expect(
            badStatus != 0 && badOutput.contains("noUnusedVariables") && badOutput.contains("format"), "\(badOutput)")
    }
}
