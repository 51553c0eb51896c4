import RealModule

extension FeatureExpression {
    /// The value and the directional derivative along `tangent` (forward-mode differentiation of the stack program).
    ///
    /// `abs`, `min` and `max` take the derivative of the active branch; `sqrt`, `log` and `pow` are differentiated
    /// where they are defined (the result is not finite elsewhere, as the value is).
    public func evaluate(
        _ inputs: UnsafeBufferPointer<Double>, tangent: UnsafeBufferPointer<Double>
    ) -> (value: Double, derivative: Double) {
        withUnsafeTemporaryAllocation(of: (Double, Double).self, capacity: Swift.max(stackDepth, 1)) { stack in
            var top = -1
            for op in program {
                switch op {
                case .push(let v):
                    top += 1
                    stack[top] = (v, 0)
                case .load(let i):
                    top += 1
                    stack[top] = (inputs[i], tangent[i])
                case .negate: stack[top] = (-stack[top].0, -stack[top].1)
                case .add, .subtract, .multiply, .divide, .power:
                    let (b, db) = stack[top]
                    top -= 1
                    let (a, da) = stack[top]
                    switch op {
                    case .add: stack[top] = (a + b, da + db)
                    case .subtract: stack[top] = (a - b, da - db)
                    case .multiply: stack[top] = (a * b, da * b + a * db)
                    case .divide: stack[top] = (a / b, (da * b - a * db) / (b * b))
                    default: stack[top] = Self.power(a, da, b, db)
                    }
                case .call(let f):
                    let (x, dx) = stack[top]
                    switch f {
                    case .abs: stack[top] = (Swift.abs(x), x < 0 ? -dx : dx)
                    case .sqrt:
                        let r = x.squareRoot()
                        stack[top] = (r, dx / (2 * r))
                    case .log: stack[top] = (Double.log(x), dx / x)
                    case .exp:
                        let e = Double.exp(x)
                        stack[top] = (e, e * dx)
                    case .min, .max, .pow:
                        top -= 1
                        let (a, da) = stack[top]
                        switch f {
                        case .min: stack[top] = a <= x ? (a, da) : (x, dx)
                        case .max: stack[top] = a >= x ? (a, da) : (x, dx)
                        default: stack[top] = Self.power(a, da, x, dx)
                        }
                    }
                }
            }
            return stack[0]
        }
    }

    /// d(a^b) = a^b (db ln a + b da / a), with the constant-exponent case kept finite at a <= 0.
    private static func power(_ a: Double, _ da: Double, _ b: Double, _ db: Double) -> (Double, Double) {
        let value = FeatureExpression.power(a, b)
        if db == 0 { return (value, da == 0 ? 0 : b * power(a, b - 1) * da) }
        return (value, value * (db * Double.log(a) + (da == 0 ? 0 : b * da / a)))
    }
}
