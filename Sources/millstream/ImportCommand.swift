import ArgumentParser
import Bus
import Buses
import Foundation
import Plant
import Primitives
import Tabular

extension Millstream {
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import readings from a CSV file (or JSON lines) into a topic.",
            discussion: """
                CSV columns are matched to the process config's variables by their `column:` names (the AI4I file \
                works with the built-in config). Every row is checked first; if any is bad, nothing is written and \
                the error names the line. Files ending in .jsonl or .ndjson hold one reading in the wire format per \
                line.

                Example: millstream import data/ai4i2020.csv --topic readings --machine plant1/line1/m01
                """)
        @Argument(help: "CSV file (UTF-8, optional byte-order mark) or .jsonl file.") var file: String
        @Option(help: "Topic to write to.") var topic = "readings"
        @Option(help: "Process configuration (YAML); default: the built-in milling process.") var config: String?
        @Option(help: "Machine id for rows when the CSV has no machine column (default: the config's first machine).")
        var machine: String?
        @Option(
            help: "Time of the first row when the CSV has no time column (ISO 8601; default: now minus the rows' span)."
        )
        var start: String?
        @Option(help: "Time between rows when the CSV has no time column (e.g. 60s).") var interval = "60s"
        @OptionGroup var busOptions: BusOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let process = try loadProcessConfig(config)
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandError("cannot read \(file): no such file or no permission")
            }
            let bytes = [UInt8](data)
            let readings: [Reading]
            if file.hasSuffix(".jsonl") || file.hasSuffix(".ndjson") {
                readings = try jsonLines(bytes, process)
            } else {
                readings = try csvRows(try CSVParser.parse(bytes, source: file), process)
            }
            let bus = try openBus(busOptions.bus)
            let producer = try await bus.producer()
            var sent = 0
            for chunk in stride(from: 0, to: readings.count, by: 1000) {
                let records = readings[chunk..<min(readings.count, chunk + 1000)].map {
                    Record(key: Array($0.machine.utf8), value: ReadingEncoder.encode($0), timestamp: $0.timestamp)
                }
                _ = try await producer.send(records, to: topic)
                sent += records.count
                Terminal.status("import: \(grouped(sent))/\(grouped(readings.count)) readings")
            }
            try await producer.flush()
            try await bus.close()
            Terminal.endStatus()
            if output.json {
                print(Terminal.jsonLine(["readings": sent, "topic": topic, "file": file]))
            } else {
                print("imported \(grouped(sent)) readings from \(file) into \(topic) on \(busOptions.bus)")
            }
        }

        private func csvRows(_ table: CSVTable, _ process: ProcessConfig) throws -> [Reading] {
            let validator = ReadingValidator(config: process)
            let columns = try process.variables.map { try table.column($0.column) }
            let productColumn = try process.csv.product.map { try table.column($0) }
            let machineColumn = try process.csv.machine.map { try table.column($0) }
            let timeColumn = try process.csv.timestamp.map { try table.column($0) }
            let fixedMachine = machine ?? process.machineIDs[0]
            let step = try parseDuration(interval, option: "--interval")
            let stepMs = Int64(step.components.seconds * 1000 + step.components.attoseconds / 1_000_000_000_000_000)
            var first = currentMilliseconds() - stepMs * Int64(table.rows.count)
            if let start {
                guard let t = Timestamp.parse(start) else {
                    throw CommandError("--start \(start) is not an ISO 8601 time")
                }
                first = t
            }
            var sequence: [String: Int64] = [:]
            var readings: [Reading] = []
            readings.reserveCapacity(table.rows.count)
            for row in table.rows.indices {
                let place = "\(table.source):\(table.lines[row])"
                let values = try zip(process.variables, columns).map { v, c in
                    Measurement(v.name, try table.number(row: row, column: c))
                }
                let id = machineColumn.map { table.rows[row][$0] } ?? fixedMachine
                var ts = first + Int64(row) * stepMs
                if let timeColumn {
                    guard let t = Timestamp.parse(table.rows[row][timeColumn]) else {
                        throw CommandError("\(place): '\(table.rows[row][timeColumn])' is not an ISO 8601 time")
                    }
                    ts = t
                }
                sequence[id, default: 0] += 1
                let reading = Reading(
                    machine: id, timestamp: ts, sequence: sequence[id], values: values,
                    product: productColumn.map { table.rows[row][$0] }, state: .running, good: 1)
                do { try validator.validate(reading) } catch { throw CommandError("\(place): \(error.message)") }
                readings.append(reading)
            }
            return readings
        }

        private func jsonLines(_ bytes: [UInt8], _ process: ProcessConfig) throws -> [Reading] {
            let validator = ReadingValidator(config: process)
            var readings: [Reading] = []
            for (n, line) in bytes.split(separator: 10, omittingEmptySubsequences: false).enumerated()
            where !line.isEmpty {
                do {
                    let reading = try ReadingDecoder.decode(Array(line))
                    try validator.validate(reading, now: currentMilliseconds())
                    readings.append(reading)
                } catch {
                    throw CommandError("\(file):\(n + 1): \(error.message)")
                }
            }
            return readings
        }
    }
}
