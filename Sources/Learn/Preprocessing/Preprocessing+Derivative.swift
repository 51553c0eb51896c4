extension Preprocessing {
    /// Whether the features are differentiable in the raw inputs almost everywhere with derivatives that carry the
    /// model's dependence. Tree steps are not: their step columns are flat, so a gradient would miss every threshold
    /// the model learned; solvers use a derivative-free method for such models.
    public var isDifferentiable: Bool { scaling != .treeSteps }

    /// The directional derivative of the feature vector along `tangent` (a direction in the numeric inputs), written
    /// into `out` (featureCount wide). Categorical columns do not move. Allocates nothing.
    public func derivative(
        numeric: UnsafeBufferPointer<Double>, tangent: UnsafeBufferPointer<Double>,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        var k = 0
        for f in 0..<(numericInputs.count + derived.count) {
            let x: Double
            let dx: Double
            if f < numericInputs.count {
                x = numeric[f]
                dx = tangent[f]
            } else {
                (x, dx) = derived[f - numericInputs.count].expression.evaluate(numeric, tangent: tangent)
            }
            if let edges, scaling == .treeSteps {
                let e = edges[f]
                out[k] = Float(dx * factors[f])
                for t in 1..<(e.count - 1) { out[k + t] = 0 }
                k += e.count - 1
            } else if let edges {
                let e = edges[f]
                let n = e.count - 1
                for t in 0..<n {
                    let inside = !((x < e[t] && t > 0) || (x >= e[t + 1] && t < n - 1))
                    out[k + t] = inside ? Float(dx / (e[t + 1] - e[t])) : 0
                }
                k += n
            } else {
                out[k] = Float(dx * factors[f])
                k += 1
            }
        }
        for c in categorical {
            for n in 0..<c.categories.count { out[k + n] = 0 }
            k += c.categories.count
        }
    }

    /// For one row, d value / d numeric input along each of `directions`, from d value / d feature (`featureGradient`,
    /// featureCount wide): the chain rule through the preprocessing. Unbinned features are scaled inputs, so only the
    /// derived features need a derivative (forward mode through their expressions); binned ones take a forward pass
    /// per direction. `tangent` (numericInputs wide) must hold zeros and is left so; `featureTangent` is scratch
    /// (featureCount wide). Allocates nothing.
    public func inputGradient(
        numeric: UnsafeBufferPointer<Double>, featureGradient: UnsafeBufferPointer<Float>, directions: [Int],
        tangent: UnsafeMutableBufferPointer<Double>, featureTangent: UnsafeMutableBufferPointer<Float>,
        into out: UnsafeMutableBufferPointer<Double>
    ) {
        let n = numericInputs.count
        for (k, d) in directions.enumerated() {
            tangent[d] = 1
            defer { tangent[d] = 0 }
            guard edges == nil else {
                derivative(numeric: numeric, tangent: UnsafeBufferPointer(tangent), into: featureTangent)
                var sum: Float = 0
                for f in 0..<featureCount { sum += featureTangent[f] * featureGradient[f] }
                out[k] = Double(sum)
                continue
            }
            var sum = Double(featureGradient[d]) * factors[d]
            for (j, feature) in derived.enumerated() {
                let dx = feature.expression.evaluate(numeric, tangent: UnsafeBufferPointer(tangent)).derivative
                sum += Double(featureGradient[n + j]) * factors[n + j] * dx
            }
            out[k] = sum
        }
    }
}
