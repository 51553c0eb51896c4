import ArgumentParser
import Buses
import Foundation
import Historian
import Logging
import Observability
import Plant
import Primitives
import ServiceLifecycle
import Synchronization

extension Millstream {
    struct Historian: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store readings, predictions, KPIs and alerts from the bus for long-range queries.",
            discussion: """
                Follows the readings, predictions, kpis and alerts topics into a SQLite file (WAL mode) or a \
                PostgreSQL database (--db postgres://USER:PASSWORD@HOST:5432/DB), exactly once: each batch is \
                written with the bus offsets it ends at, and a restart resumes there. Samples \
                are kept raw and rolled up per minute and per hour (min, max, sum, count), so a year's trend reads a \
                few thousand rows. `millstream serve --historian FILE` serves trends and exports from the file; \
                `millstream export` queries it. docs/historian.md.
                """)

        @OptionGroup var busOptions: BusOptions
        @Option(help: "The historian's SQLite file (created when missing) or postgres:// URL.")
        var db = "./millstream-history.sqlite"
        @Flag(help: "Stop once everything on the bus at start is stored (an import), instead of following it.")
        var untilCaughtUp = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let telemetry = try Observability.bootstrap(service: "millstream-historian", level: .info)
            let historian: (store: any HistorianStore, services: [any Service])
            do { historian = try Historians.open(db) } catch { throw CommandError(error.description) }
            let bus = try openBus(busOptions.bus)
            let started = ContinuousClock.now
            let last = ProgressLine()
            let service = HistorianService(bus: bus, store: historian.store, untilCaughtUp: untilCaughtUp) { p in
                last.update(p, since: started)
            }
            if !untilCaughtUp {
                Terminal.error(
                    "historian: following \(busOptions.bus) into \(historian.store.location) (Ctrl-C stops)")
            }
            let services: [any Service] = [BusService(bus: bus)] + historian.services + [service]
            try await runServices(services, main: services.count - 1, telemetry: telemetry)
            let p = last.value
            let seconds = (ContinuousClock.now - started).seconds
            if output.json {
                print(
                    Terminal.jsonLine([
                        "db": historian.store.location, "records": p.records, "samples": p.samples, "alerts": p.alerts,
                        "unreadable": p.unreadable, "seconds": seconds,
                    ]))
            } else {
                print(
                    "stored \(p.records) records (\(p.samples) samples, \(p.alerts) alerts; \(p.unreadable) unreadable) in \(historian.store.location) in \(String(format: "%.1f", seconds)) s"
                )
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export a machine's history (or its alerts) from the historian as CSV or JSON.",
            discussion: """
                Raw values with --points 0 (the default), else at most that many buckets per variable with min, \
                max and mean. Times are ISO 8601 (UTC) or milliseconds since the epoch.
                """)

        @Option(help: "The historian's SQLite file or postgres:// URL.") var db = "./millstream-history.sqlite"
        @Option(help: "The machine, e.g. plant1/line1/m01.") var machine: String?
        @Option(help: "Variables, comma separated (readings' variables, risk, oee, availability, ...).")
        var variables: String?
        @Option(help: "From this time (default: the beginning).") var from: String?
        @Option(help: "Up to this time, not included (default: now).") var to: String?
        @Option(help: "At most this many buckets per variable; 0 for the raw values.") var points = 0
        @Flag(help: "Export the alert records instead (of --machine, or of every machine).") var alerts = false
        @Option(help: "csv, json or parquet.") var format = "csv"
        @Option(help: "Write to this file instead of standard output.") var out: String?

        func validate() throws {
            guard ExportFormat(rawValue: format) != nil else {
                throw ValidationError("--format takes csv, json or parquet")
            }
            if !alerts && (machine == nil || variables == nil) {
                throw ValidationError("name the --machine and its --variables (or export --alerts)")
            }
        }

        func run() async throws {
            func time(_ text: String, _ option: String) throws -> Int64 {
                guard let t = HistoryExport.parseTime(text) else {
                    throw ValidationError(
                        "\(option) '\(text)' is not an ISO 8601 time (2026-01-01T00:00:00Z) or milliseconds")
                }
                return t
            }
            let start = try from.map { try time($0, "--from") } ?? 0
            let end = try to.map { try time($0, "--to") } ?? Timestamp.now() + 1
            let bytes: [UInt8]
            do {
                if Historians.isPostgres(db) {
                    bytes = try await PostgresHistorian.withStore(url: db) { store in
                        try await query(store, from: start, to: end)
                    }
                } else {
                    bytes = try await query(SQLiteHistorian(path: db, readOnly: true), from: start, to: end)
                }
            } catch {
                throw CommandError("\(error)")
            }
            if let out {
                do { try Data(bytes).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                    throw CommandError("cannot write \(out): \(error.localizedDescription)")
                }
            } else {
                FileHandle.standardOutput.write(Data(bytes))
            }
        }

        func query(_ store: any HistorianStore, from start: Int64, to end: Int64) async throws -> [UInt8] {
            if alerts {
                let found = try await store.alerts(machine: machine, from: start, to: end, limit: Int.max)
                return HistoryExport.file(found, format: ExportFormat(rawValue: format)!)
            }
            let query = try HistoryQuery(
                machine: machine ?? "", variables: (variables ?? "").split(separator: ",").map(String.init),
                from: start, to: end, points: points)
            let series = try await store.series(query)
            return HistoryExport.file(series, query: query, format: ExportFormat(rawValue: format)!)
        }
    }
}

/// The newest progress of a running service, printed at most once a second.
final class ProgressLine: Sendable {
    private let state = Mutex<(HistorianProgress, ContinuousClock.Instant?)>((HistorianProgress(), nil))

    var value: HistorianProgress { state.withLock { $0.0 } }

    func update(_ p: HistorianProgress, since started: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        let print = state.withLock { s -> Bool in
            s.0 = p
            guard s.1.map({ now - $0 >= .seconds(1) }) ?? true else { return false }
            s.1 = now
            return true
        }
        if print {
            Terminal.error(
                "historian: \(p.records) records, \(p.samples) samples, \(p.alerts) alerts (\(String(format: "%.0f", Double(p.records) / max((now - started).seconds, 0.001))) records/s)"
            )
        }
    }
}
