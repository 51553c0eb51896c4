import Foundation
import TestSupport
import Testing

/// examples/airflow's DAG under Airflow (PyPI): `airflow dags test` runs the retraining as one task per step of
/// `millstream retrain` on a simulated plant, each task a process of its own that resumes the run the one before left.
@Suite struct AirflowTests {
    static let repo = LiveDemo.repository
    static let airflow = repo + "/.venv-airflow/bin/airflow"

    @Test func dagRunsTheRetrainStepsAsTasks() async throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/dags", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bus = "embedded://\(dir)/bus"
        // Two days of a plant, and a champion trained on the first by a run of its own.
        for (seed, start) in [(1, "2026-05-01T00:00:00Z"), (2, "2026-05-03T00:00:00Z")] {
            let sim = try await CLI.run([
                "simulate", "--machines", "20", "--duration", "2d", "--fast", "--seed", "\(seed)", "--labels",
                "--start", start, "--bus", bus,
            ])
            #expect(sim.status == 0, "\(sim.stderr)")
            if seed == 1 {
                let config = try String(contentsOfFile: Self.repo + "/examples/retrain/retrain.yaml", encoding: .utf8)
                    .replacingOccurrences(of: "embedded://./millstream-data", with: bus)
                    .replacingOccurrences(of: "./models", with: dir + "/models")
                    .replacingOccurrences(of: "./retrain", with: dir + "/retrain")
                    .replacingOccurrences(of: "--epochs, \"30\"", with: "--epochs, \"3\"")
                    .replacingOccurrences(of: "server: http://127.0.0.1:8080", with: "")
                try config.write(toFile: dir + "/retrain.yaml", atomically: true, encoding: .utf8)
                let first = try await CLI.run(["retrain", "--config", dir + "/retrain.yaml", "--run", "first"])
                #expect(first.status == 0, "\(first.stderr)")
            }
        }
        try FileManager.default.copyItem(
            atPath: Self.repo + "/examples/airflow/millstream_retrain.py", toPath: dir + "/dags/millstream_retrain.py")
        let env = [
            "AIRFLOW_HOME=\(dir)/airflow", "AIRFLOW__CORE__DAGS_FOLDER=\(dir)/dags",
            "AIRFLOW__CORE__LOAD_EXAMPLES=False",
            "MILLSTREAM_RETRAIN_CONFIG=\(dir)/retrain.yaml", "MILLSTREAM_BIN=\(CLI.binary)",
        ]
        let migrate = try await runTool("/usr/bin/env", env + [Self.airflow, "db", "migrate"])
        #expect(migrate.0 == 0, "\(migrate.1.suffix(3000))")
        let test = try await runTool("/usr/bin/env", env + [Self.airflow, "dags", "test", "millstream_retrain"])
        #expect(test.0 == 0, "\(test.1.suffix(3000))")
        #expect(test.1.contains("state=success"), "\(test.1.suffix(3000))")
        // The DAG run's Millstream run: every step a task did, the challenger registered and left in shadow (this
        // config names no server to score it).
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/retrain").filter {
            $0.hasPrefix("manual__")
        }
        #expect(runs.count == 1, "\(runs)")
        let state =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/retrain/\(runs.first ?? "")/state.json")))
            as? [String: Any]
        #expect(
            state?["done"] as? [String]
                == ["snapshot", "validate", "split", "train", "evaluate", "register", "shadow"],
            "\(String(describing: state))")
        #expect((state?["outcome"] as? String)?.hasPrefix("in shadow") == true)
        let models = try await CLI.run(["models", "list", "--registry", dir + "/models"])
        #expect(
            models.stdout.contains("lead@v1\tproduction") && models.stdout.contains("@challenger"), "\(models.stdout)")
    }
}
