import Foundation
import Learn

extension Millstream.Evaluate {
    /// An anomaly detector on a labelled file (rows in time order, `--label` 0 for normal and 1 for faulty rows):
    /// false alarms on the normal rows, detection on the faulty ones, the delay from each fault's first row to its
    /// first alarm, and how often the top contributing variable was the same one.
    func evaluateDetector(_ file: ModelFile, name: String) throws {
        let d = file.description
        guard let detector = d.anomalyDetector else { throw CommandError("\(name) has no detector in its model.json") }
        let (x, table) = try TrainingTable.features(path: data, model: d)
        let c = try table.column(label)
        let labels = try table.rows.indices.map { r -> Bool in
            switch table.rows[r][c].trimmingCharacters(in: .whitespaces) {
            case "0", "false", "normal": return false
            case "1", "true", "fault": return true
            case let v:
                throw CommandError("\(data):\(table.lines[r]): \(label) '\(v)' is not 0 or 1")
            }
        }
        let rows = (0..<x.rows).map { x.row($0).map(Double.init) }
        let checked = detector.checkSeries(rows)
        let normal = labels.indices.filter { !labels[$0] }
        let faulty = labels.indices.filter { labels[$0] }
        let falseAlarms = Double(normal.filter { checked[$0].alarm }.count) / Double(max(normal.count, 1))
        let detection = Double(faulty.filter { checked[$0].alarm }.count) / Double(max(faulty.count, 1))
        // Each run of faulty rows is one fault: its delay is the rows until the first alarm (nil: never caught).
        var delays: [Int?] = []
        var start: Int?
        for r in labels.indices {
            if labels[r] && start == nil { start = r }
            if let s = start, !labels[r] || r == labels.count - 1 {
                let end = labels[r] ? r + 1 : r
                delays.append((s..<end).first { checked[$0].alarm }.map { $0 - s })
                start = nil
            }
        }
        let caught = delays.compactMap { $0 }.sorted()
        var tops: [String: Int] = [:]
        for r in faulty where checked[r].alarm {
            let cs = checked[r].contributions
            if let top = cs.indices.max(by: { cs[$0] < cs[$1] }) { tops[detector.variables[top], default: 0] += 1 }
        }
        let named = tops.max { $0.value < $1.value }
        let result: [String: Any] = [
            "model": name, "rows": rows.count, "normal_rows": normal.count, "faulty_rows": faulty.count,
            "false_alarm_rate": falseAlarms, "asked_rate": detector.calibration?.askedRate ?? NSNull(),
            "detection_rate": detection, "faults": delays.count, "faults_caught": caught.count,
            "median_delay_rows": caught.isEmpty ? NSNull() : caught[caught.count / 2],
            "top_variable": named?.key ?? NSNull(),
        ]
        if output.json {
            print(Terminal.jsonLine(result))
            return
        }
        print("\(name) on \(data) (\(rows.count) rows: \(normal.count) normal, \(faulty.count) faulty)")
        let asked = detector.calibration.map { String(format: " (asked %.2f %%)", 100 * $0.askedRate) } ?? ""
        print(String(format: "false alarms on normal rows: %.2f %%", 100 * falseAlarms) + asked)
        print(String(format: "detection on faulty rows: %.1f %%", 100 * detection))
        if !delays.isEmpty {
            print(
                "faults caught: \(caught.count) of \(delays.count)"
                    + (caught.isEmpty ? "" : ", median delay \(caught[caught.count / 2]) rows"))
        }
        if let named {
            print(
                "most named variable in alarms on faulty rows: \(named.key) (\(named.value) of \(tops.values.reduce(0, +)))"
            )
        }
    }
}
