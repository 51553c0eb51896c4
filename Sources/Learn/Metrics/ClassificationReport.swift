/// Per-class precision, recall, F1 and support, with accuracy and macro and weighted averages (scikit-learn's layout).
public struct ClassificationReport: Sendable, Codable, Equatable {
    public struct Row: Sendable, Codable, Equatable {
        public var label: String
        public var precision: Double
        public var recall: Double
        public var f1: Double
        public var support: Int
    }

    public var classes: [Row]
    public var accuracy: Double
    public var macro: Row
    public var weighted: Row
    /// confusion[actual][predicted]
    public var confusion: [[Int]]

    public init(predicted: [Int], actual: [Int], labels: [String]) {
        precondition(predicted.count == actual.count)
        let k = labels.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (p, a) in zip(predicted, actual) { confusion[a][p] += 1 }
        var rows: [Row] = []
        for c in 0..<k {
            let tp = confusion[c][c]
            let predictedC = (0..<k).reduce(0) { $0 + confusion[$1][c] }
            let support = confusion[c].reduce(0, +)
            let precision = predictedC == 0 ? 0 : Double(tp) / Double(predictedC)
            let recall = support == 0 ? 0 : Double(tp) / Double(support)
            let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
            rows.append(Row(label: labels[c], precision: precision, recall: recall, f1: f1, support: support))
        }
        let total = rows.reduce(0) { $0 + $1.support }
        func average(_ weight: (Row) -> Double, _ name: String) -> Row {
            let w = rows.map(weight)
            let sum = w.reduce(0, +)
            func avg(_ f: (Row) -> Double) -> Double {
                sum == 0 ? 0 : zip(rows, w).reduce(0) { $0 + f($1.0) * $1.1 } / sum
            }
            return Row(label: name, precision: avg(\.precision), recall: avg(\.recall), f1: avg(\.f1), support: total)
        }
        classes = rows
        accuracy =
            predicted.isEmpty ? 0 : Double((0..<k).reduce(0) { $0 + confusion[$1][$1] }) / Double(predicted.count)
        macro = average({ _ in 1 }, "macro avg")
        weighted = average({ Double($0.support) }, "weighted avg")
        self.confusion = confusion
    }

    /// The report as a text table.
    public var text: String {
        let width = max(12, (classes.map(\.label) + ["weighted avg"]).map(\.count).max()!)
        func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        func line(_ r: Row) -> String {
            pad(r.label, width) + pad(formatted(r.precision, 4), 11) + pad(formatted(r.recall, 4), 10)
                + pad(formatted(r.f1, 4), 10) + pad(String(r.support), 10)
        }
        var out =
            pad("", width) + pad("precision", 11) + pad("recall", 10) + pad("f1-score", 10) + pad("support", 10)
            + "\n\n"
        for r in classes { out += line(r) + "\n" }
        out +=
            "\n" + pad("accuracy", width) + pad("", 21) + pad(formatted(accuracy, 4), 10)
            + pad(String(macro.support), 10) + "\n"
        out += line(macro) + "\n" + line(weighted) + "\n"
        return out
    }
}
