import ArgumentParser
import Foundation
import Learn
import Tabular

/// Options of `train` for models of histories: remaining useful life and "fails within H" (docs/learn.md).
struct HistoryOptions: ParsableArguments {
    @Option(
        help:
            "Names for the columns of a file without a header row, comma separated; NAME1..NAME21 stands for NAME1, NAME2, ..., NAME21."
    )
    var columns: String?
    @Option(help: "Histories: the column that names each unit (machine, engine).") var unit: String?
    @Option(help: "Histories: the column that orders each unit's readings (a time or a cycle count).") var time: String?
    @Option(help: "Histories: readings per window.") var window = 30
    @Option(
        help:
            "Window layout: statistics (features per variable) or sequence (the whole window; the default with --conv or --gru)."
    )
    var windowLayout: String?
    @Option(help: "Window statistics, comma separated: last, mean, slope, ewma, min, max, std.")
    var windowStatistics = "last,mean,slope,ewma"
    @Option(help: "Span of the window's EWMA (alpha = 2 / (span + 1)).") var ewmaSpan: Double = 10
    @Flag(
        help:
            "Add the unit's age (its readings so far, the cycle count for C-MAPSS) as an input; statistics windows only."
    )
    var age = false
    @Option(help: "--task rul: the cap of the remaining-life target (piecewise linear).") var rulCap: Double = 125
    @Option(help: "--task failure_within: the horizon, in the time column's units.") var horizon: Double?
    @Option(
        help:
            "--task failure_within: the column that is 1 at a failure (default: each unit's history ends in its failure)."
    )
    var event: String?
    @Option(
        help: "1-D convolution filters per layer before the Dense layers, comma separated (sequence windows).",
        transform: {
            try $0.split(separator: ",").map {
                guard let n = Int($0), n > 0 else { throw ValidationError("--conv takes filter counts like 10,10") }
                return n
            }
        })
    var conv: [Int] = []
    @Option(help: "Time steps per convolution kernel.") var kernelSize = 10
    @Option(
        help:
            "GRU units per layer after the convolutions, before the Dense layers, comma separated (sequence windows).",
        transform: {
            try $0.split(separator: ",").map {
                guard let n = Int($0), n > 0 else { throw ValidationError("--gru takes unit counts like 32 or 32,16") }
                return n
            }
        })
    var gru: [Int] = []

    func validate(task: String?) throws {
        let historyTask = task == "rul" || task == "failure_within"
        guard historyTask == (unit != nil), unit == nil || time != nil else {
            throw ValidationError(
                unit == nil
                    ? "--task \(task ?? "") learns from histories: give --unit COLUMN and --time COLUMN"
                    : "--unit makes a history model: give --time COLUMN and --task rul or failure_within")
        }
        guard window >= 1 && window <= 10_000 else { throw ValidationError("--window takes 1 to 10000 readings") }
        if let windowLayout, WindowSpec.Layout(rawValue: windowLayout) == nil {
            throw ValidationError("--window-layout takes statistics or sequence")
        }
        if task == "failure_within" {
            guard let horizon, horizon > 0 else {
                throw ValidationError("--task failure_within needs --horizon above 0 (in the time column's units)")
            }
        }
        guard rulCap > 0 else { throw ValidationError("--rul-cap must be above 0") }
    }

    /// The column names for a headerless file, with NAME1..NAME21 runs expanded.
    func header() throws -> [String]? {
        guard let columns else { return nil }
        return try columns.split(separator: ",").flatMap { part -> [String] in
            let item = part.trimmingCharacters(in: .whitespaces)
            guard let range = item.range(of: "..") else { return [item] }
            let first = String(item[..<range.lowerBound])
            let last = String(item[range.upperBound...])
            let prefix = String(first.prefix { !$0.isNumber })
            guard let from = Int(first.dropFirst(prefix.count)), last.hasPrefix(prefix),
                let to = Int(last.dropFirst(prefix.count)), from <= to, to - from < 10_000
            else {
                throw ValidationError("--columns: '\(item)' is not a run like s1..s21")
            }
            return (from...to).map { "\(prefix)\($0)" }
        }
    }

    func windowSpec(variables: [String]) throws -> WindowSpec {
        let layout = WindowSpec.Layout(
            rawValue: windowLayout ?? (conv.isEmpty && gru.isEmpty ? "statistics" : "sequence"))!
        let statistics = try windowStatistics.split(separator: ",").map { name in
            guard let s = WindowSpec.Statistic(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError(
                    "--window-statistics: '\(name)' is not one of \(WindowSpec.Statistic.allCases.map(\.rawValue))")
            }
            return s
        }
        return try WindowSpec(
            variables: variables, length: window, layout: layout, statistics: statistics, ewmaSpan: ewmaSpan, age: age)
    }

    /// Trains on the table's histories: the window covers every numeric input and derived feature; the target is the capped remaining
    /// life (rul) or a failure within the horizon (failure_within).
    func train(
        _ table: TrainingTable, target: String?, task: String?, spec: TrainingSpec, metadata: ModelFile.Metadata,
        _ onEpoch: (EpochLog) -> Void
    ) throws -> TrainingResult {
        guard let unit, let time else { throw CommandError("a history model needs --unit and --time") }
        var data = table.data
        if let event, let i = data.numericNames.firstIndex(of: event) {
            // The event column is the label's source, not an input.
            data.numericNames.remove(at: i)
            data.numeric.remove(at: i)
        }
        var history = ModelFile.HistorySpec(
            unit: unit, time: time, window: try windowSpec(variables: data.numericNames + data.derived.map(\.name)),
            header: try header())
        history.cap = task == "rul" ? rulCap : nil
        history.horizon = task == "failure_within" ? horizon : nil
        let (units, times) = try TrainingTable.unitsAndTime(table.table, history)
        var spec = spec
        if task == "rul" {
            guard target == nil else {
                throw CommandError(
                    "--task rul computes its target from each unit's history (run to failure); leave out --target")
            }
            spec.task = .regression
            data.targetName = "rul"
            data.target = try TimeToEvent.remainingLife(units: units, time: times, cap: rulCap).map { "\($0)" }
        } else {
            spec.task = .binary
            let events = try event.map { name -> [Bool] in
                let c = try table.table.column(name)
                return table.table.rows.map { $0[c].trimmingCharacters(in: .whitespaces) == "1" }
            }
            let ends = Set(try history.lastRows(units: units, time: times).map(\.row))
            data.targetName = "failure_within_\(Self.number(horizon!))"
            data.target = try TimeToEvent.eventWithin(
                horizon: horizon!, units: units, time: times, event: events ?? units.indices.map(ends.contains)
            ).map { "\($0)" }
        }
        return try Trainer.train(
            history: data, units: units, time: times, history: history, spec: spec, metadata: metadata,
            onEpoch: onEpoch)
    }

    static func number(_ x: Double) -> String { x == x.rounded() ? "\(Int(x))" : "\(x)" }
}

extension Millstream.Evaluate {
    /// Per row: whether its unit's event comes within `horizon`. The events are the `event` column's 1s (a plant's
    /// failures, many per machine), or without one each unit's last row (run-to-failure histories).
    static func failuresWithin(
        _ horizon: Double, _ history: ModelFile.HistorySpec, table: CSVTable, event: String?
    ) throws -> [Int] {
        let (units, times) = try TrainingTable.unitsAndTime(table, history)
        let events: [Bool]
        if let event {
            let c = try table.column(event)
            events = table.rows.map { $0[c].trimmingCharacters(in: .whitespaces) == "1" }
        } else {
            let ends = Set(try history.lastRows(units: units, time: times).map(\.row))
            events = units.indices.map(ends.contains)
        }
        return try TimeToEvent.eventWithin(horizon: horizon, units: units, time: times, event: events)
    }

    /// A "fails within" model's figures on a file of histories, at its own threshold.
    static func failureWithinMetrics(_ file: ModelFile, data: String, event: String?) throws -> BinaryMetrics {
        let d = file.description
        guard let history = d.history, let horizon = history.horizon else {
            throw CommandError("the model is not a \"fails within\" model (train --task failure_within)")
        }
        let (x, table) = try TrainingTable.features(path: data, model: d)
        let scores = try file.makePredictor().predictBatch(x)
        let labels = try failuresWithin(horizon, history, table: table, event: event)
        return BinaryMetrics(scores: (0..<scores.rows).map { scores[$0, 0] }, labels: labels, threshold: d.threshold)
    }

    /// A history model on a file of histories: remaining life at each unit's last reading against `--truth` (one
    /// value per unit, in order of first appearance, as C-MAPSS's RUL files), or at every reading of run-to-failure
    /// histories; "fails within" models against the labels their horizon gives.
    func evaluateHistory(_ file: ModelFile, name: String, history: ModelFile.HistorySpec) throws {
        let d = file.description
        let (x, table) = try TrainingTable.features(path: data, model: d)
        let (units, times) = try TrainingTable.unitsAndTime(table, history)
        let scores = try file.makePredictor().predictBatch(x)
        var result: [String: Any] = ["model": name, "rows": table.rows.count, "units": Set(units).count]
        let lines: [String]
        if d.task == .regression {
            var rows = Array(0..<table.rows.count)
            var actual = try TimeToEvent.remainingLife(units: units, time: times)
            if let truth {
                let last = try history.lastRows(units: units, time: times)
                let values = try Self.readTruth(truth, count: last.count)
                rows = last.map(\.row)
                actual = values
                result["evaluated_at"] = "each unit's last reading"
            } else {
                result["evaluated_at"] = "every reading (run-to-failure histories)"
                actual = rows.map { actual[$0] }
            }
            let predicted = rows.map { Double(scores.scalars[$0]) }
            let m = RULMetrics(predicted: predicted, actual: actual, alarmBelow: alarmBelow)
            result["metrics"] = m.dictionary
            var text = [
                String(
                    format: "RMSE %.2f, MAE %.2f, PHM08 score %.1f over %d units", m.rmse, m.mae, m.score, m.count),
                String(
                    format: "alarm \"RUL <= %@\": precision %.3f, recall %.3f", HistoryOptions.number(alarmBelow),
                    m.alarmPrecision, m.alarmRecall),
            ]
            if let cap = history.cap, actual.contains(where: { $0 > cap }) {
                let capped = RULMetrics(
                    predicted: predicted, actual: actual.map { min($0, cap) }, alarmBelow: alarmBelow)
                result["metrics_capped_truth"] = capped.dictionary
                text.append(
                    String(
                        format:
                            "%d units' true RUL exceed the model's cap of %@; against the capped truth: RMSE %.2f, score %.1f",
                        actual.filter { $0 > cap }.count, HistoryOptions.number(cap), capped.rmse, capped.score))
            }
            lines = text
        } else {
            guard let horizon = history.horizon else {
                throw CommandError("\(name) is a history model without a horizon or remaining-life target")
            }
            let labels = try Self.failuresWithin(horizon, history, table: table, event: event)
            let m = BinaryMetrics(
                scores: (0..<scores.rows).map { scores[$0, 0] }, labels: labels, threshold: threshold ?? d.threshold)
            result["metrics"] = [
                "f1": m.f1, "precision": m.precision, "recall": m.recall, "roc_auc": m.rocAUC, "pr_auc": m.prAUC,
                "threshold": m.threshold,
            ]
            lines = [
                String(
                    format: "fails within %@: precision %.3f, recall %.3f, F1 %.3f, PR AUC %.3f at threshold %.3f",
                    HistoryOptions.number(horizon), m.precision, m.recall, m.f1, m.prAUC, m.threshold)
            ]
        }
        if output.json {
            print(Terminal.jsonLine(result))
        } else {
            print("\(name) on \(data) (\(table.rows.count) rows, \(Set(units).count) units)")
            for line in lines { print(line) }
        }
    }

    /// One number per line (blank lines skipped), `count` of them.
    static func readTruth(_ path: String, count: Int) throws -> [Double] {
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw CommandError("cannot read \(path): no such file or no permission")
        }
        var values: [Double] = []
        for (i, line) in String(decoding: contents, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false
        ).enumerated() {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            guard let v = Double(text), v.isFinite else {
                throw CommandError("\(path):\(i + 1): '\(text)' is not a number")
            }
            values.append(v)
        }
        guard values.count == count else {
            throw CommandError("\(path) has \(values.count) values, but the data has \(count) units (one value each)")
        }
        return values
    }
}
