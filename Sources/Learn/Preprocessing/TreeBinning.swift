/// Bin edges for one feature from a one-dimensional decision tree on the labels (best-first splits by Gini impurity
/// decrease), as in Gorishniy et al. 2022's target-aware piecewise-linear encoding: edges fall where the label's
/// distribution changes, so a network can put a sharp threshold exactly there.
enum TreeBinning {
    /// - Parameters:
    ///   - values: the feature on the training rows.
    ///   - labels: class indices of the same rows.
    ///   - leaves: the most bins to make.
    ///   - minLeaf: the fewest rows on either side of a split.
    /// - Returns: increasing edges: the minimum, the split points (midway between neighbouring values), the maximum.
    static func edges(values: [Double], labels: [Int], classes: Int, leaves: Int, minLeaf: Int) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        let x = order.map { values[$0] }
        let y = order.map { labels[$0] }
        let n = x.count
        // prefix[i][c]: rows of class c among the first i.
        var prefix = [[Int]](repeating: [Int](repeating: 0, count: classes), count: n + 1)
        for i in 0..<n {
            prefix[i + 1] = prefix[i]
            prefix[i + 1][y[i]] += 1
        }
        func gini(_ a: Int, _ b: Int) -> Double {
            let total = Double(b - a)
            guard total > 0 else { return 0 }
            var sum = 0.0
            for c in 0..<classes {
                let p = Double(prefix[b][c] - prefix[a][c]) / total
                sum += p * p
            }
            return total * (1 - sum)
        }
        /// The best split of rows a..<b: (gain, split index) with the split between x[i-1] and x[i].
        func best(_ a: Int, _ b: Int) -> (gain: Double, at: Int)? {
            let parent = gini(a, b)
            var found: (Double, Int)?
            var i = a + minLeaf
            while i <= b - minLeaf {
                if x[i] > x[i - 1] {
                    let gain = parent - gini(a, i) - gini(i, b)
                    if gain > (found?.0 ?? 1e-12) { found = (gain, i) }
                }
                i += 1
            }
            return found
        }
        var segments: [(a: Int, b: Int, split: (gain: Double, at: Int)?)] = [(0, n, best(0, n))]
        var splits: [Double] = []
        while segments.count < leaves {
            guard
                let k = segments.indices.filter({ segments[$0].split != nil }).max(by: {
                    segments[$0].split!.gain < segments[$1].split!.gain
                })
            else { break }
            let s = segments.remove(at: k)
            let at = s.split!.at
            splits.append((x[at - 1] + x[at]) / 2)
            segments.append((s.a, at, best(s.a, at)))
            segments.append((at, s.b, best(at, s.b)))
        }
        var edges = [x.first ?? 0] + splits.sorted() + [x.last ?? 1]
        if edges.count < 2 || edges[edges.count - 1] <= edges[0] { edges = [edges[0], edges[0] + 1] }
        return edges
    }
}
