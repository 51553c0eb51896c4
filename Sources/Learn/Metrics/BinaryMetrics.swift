/// Binary classification quality at a decision threshold, plus threshold-free ranking measures.
public struct BinaryMetrics: Sendable, Codable, Equatable {
    public var threshold: Double
    public var accuracy: Double
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var rocAUC: Double
    public var prAUC: Double
    /// [[true negatives, false positives], [false negatives, true positives]]
    public var confusion: [[Int]]

    enum CodingKeys: String, CodingKey {
        case threshold, accuracy, precision, recall, f1, confusion
        case rocAUC = "roc_auc"
        case prAUC = "pr_auc"
    }

    /// - Parameters:
    ///   - scores: predicted probabilities of the positive class.
    ///   - labels: 0 or 1.
    public init(scores: [Float], labels: [Int], threshold: Double = 0.5) {
        precondition(scores.count == labels.count)
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (s, y) in zip(scores, labels) {
            let predicted = Double(s) >= threshold
            switch (predicted, y == 1) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        self.threshold = threshold
        accuracy = labels.isEmpty ? 0 : Double(tp + tn) / Double(labels.count)
        precision = tp + fp == 0 ? 0 : Double(tp) / Double(tp + fp)
        recall = tp + fn == 0 ? 0 : Double(tp) / Double(tp + fn)
        f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        confusion = [[tn, fp], [fn, tp]]
        rocAUC = Self.rocAUC(scores: scores, labels: labels)
        prAUC = Self.averagePrecision(scores: scores, labels: labels)
    }

    /// Area under the ROC curve: the probability that a random positive scores above a random negative (ties 1/2).
    public static func rocAUC(scores: [Float], labels: [Int]) -> Double {
        let positives = labels.filter { $0 == 1 }.count
        let negatives = labels.count - positives
        guard positives > 0 && negatives > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        // Average ranks over ties (Mann-Whitney U).
        var rankSumPositive = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j where labels[order[k]] == 1 { rankSumPositive += rank }
            i = j + 1
        }
        let u = rankSumPositive - Double(positives) * Double(positives + 1) / 2
        return u / (Double(positives) * Double(negatives))
    }

    /// Area under the precision-recall curve as average precision (scikit-learn's definition): the mean of the
    /// precision at each threshold, weighted by the recall it adds.
    public static func averagePrecision(scores: [Float], labels: [Int]) -> Double {
        let positives = labels.filter { $0 == 1 }.count
        guard positives > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0, fp = 0
        var previousRecall = 0.0
        var ap = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            for k in i...j { if labels[order[k]] == 1 { tp += 1 } else { fp += 1 } }
            let recall = Double(tp) / Double(positives)
            let precision = Double(tp) / Double(tp + fp)
            ap += (recall - previousRecall) * precision
            previousRecall = recall
            i = j + 1
        }
        return ap
    }

    /// The threshold that maximizes F1 on these scores (choose it on validation data, report on test data).
    public static func bestThreshold(scores: [Float], labels: [Int]) -> Double {
        let positives = labels.filter { $0 == 1 }.count
        guard positives > 0 else { return 0.5 }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0, fp = 0
        var best = (f1: -1.0, threshold: 0.5)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            for k in i...j { if labels[order[k]] == 1 { tp += 1 } else { fp += 1 } }
            let precision = Double(tp) / Double(tp + fp)
            let recall = Double(tp) / Double(positives)
            let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
            if f1 > best.f1 {
                // Midway to the next lower score, so scores equal to this one count as positive.
                let next = j + 1 < order.count ? Double(scores[order[j + 1]]) : 0
                best = (f1, (Double(scores[order[i]]) + next) / 2)
            }
            i = j + 1
        }
        return best.threshold
    }
}
