import RealModule

/// Where the training data lies in the space of the numeric inputs: their mean and covariance, and how far
/// (Mahalanobis distance) the training rows reach. An optimizer keeps its candidates inside, where the model has
/// seen data: outside, a network extrapolates, and an optimizer would exploit its errors.
public struct InputSupport: Sendable, Codable, Equatable {
    public var names: [String]
    public var mean: [Double]
    /// The inverse covariance, row-major (names.count squared).
    public var precision: [Double]
    /// The 99th percentile of the training rows' distances from the mean.
    public var radius: Double

    /// Fits on columns of values (one per name); nil when there are too few rows or a column does not vary.
    public static func fit(names: [String], columns: [[Double]]) -> InputSupport? {
        let d = names.count
        let n = columns.first?.count ?? 0
        guard d > 0, n > d + 1, columns.count == d else { return nil }
        let mean = columns.map { $0.reduce(0, +) / Double(n) }
        var covariance = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in i..<d {
                var s = 0.0
                for r in 0..<n { s += (columns[i][r] - mean[i]) * (columns[j][r] - mean[j]) }
                covariance[i * d + j] = s / Double(n - 1)
                covariance[j * d + i] = covariance[i * d + j]
            }
        }
        for i in 0..<d {
            guard covariance[i * d + i] > 0 else { return nil }
            covariance[i * d + i] *= 1 + 1e-9  // a hair of ridge for nearly collinear inputs
        }
        guard let precision = invert(covariance, d) else { return nil }
        var support = InputSupport(names: names, mean: mean, precision: precision, radius: 0)
        var distances = (0..<n).map { r in support.distance((0..<d).map { columns[$0][r] }) }
        distances.sort()
        support.radius = distances[min(n - 1, Int(0.99 * Double(n)))]
        return support
    }

    /// The Mahalanobis distance of a point from the training mean.
    public func distance(_ x: [Double]) -> Double {
        let d = names.count
        var sum = 0.0
        for i in 0..<d {
            var row = 0.0
            for j in 0..<d { row += precision[i * d + j] * (x[j] - mean[j]) }
            sum += (x[i] - mean[i]) * row
        }
        return max(0, sum).squareRoot()
    }

    /// Gauss-Jordan with partial pivoting; nil when singular.
    static func invert(_ m: [Double], _ d: Int) -> [Double]? {
        var a = m
        var inverse = [Double](repeating: 0, count: d * d)
        for i in 0..<d { inverse[i * d + i] = 1 }
        for col in 0..<d {
            var pivot = col
            for r in (col + 1)..<max(col + 1, d) where abs(a[r * d + col]) > abs(a[pivot * d + col]) { pivot = r }
            guard abs(a[pivot * d + col]) > 1e-300 else { return nil }
            if pivot != col {
                for k in 0..<d {
                    a.swapAt(col * d + k, pivot * d + k)
                    inverse.swapAt(col * d + k, pivot * d + k)
                }
            }
            let p = a[col * d + col]
            for k in 0..<d {
                a[col * d + k] /= p
                inverse[col * d + k] /= p
            }
            for r in 0..<d where r != col {
                let f = a[r * d + col]
                guard f != 0 else { continue }
                for k in 0..<d {
                    a[r * d + k] -= f * a[col * d + k]
                    inverse[r * d + k] -= f * inverse[col * d + k]
                }
            }
        }
        return inverse
    }
}
