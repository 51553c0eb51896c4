import RealModule

/// An arithmetic expression over named inputs, e.g. `torque_nm * rpm * 2 * pi / 60`.
///
/// Grammar: `+ - * / ^` (power, right-associative), unary minus, parentheses, numbers, the constants `pi` and `e`,
/// and the functions `abs sqrt log exp min max pow`. Compiled once to a stack program; evaluation allocates nothing.
public struct FeatureExpression: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    let program: [Op]
    let stackDepth: Int

    enum Op: Sendable, Equatable {
        case push(Double)
        case load(Int)
        case add, subtract, multiply, divide, power, negate
        case call(Function)
    }

    enum Function: String, Sendable, CaseIterable {
        case abs, sqrt, log, exp, min, max, pow
        var arity: Int { self == .min || self == .max || self == .pow ? 2 : 1 }
    }

    public var description: String { text }

    /// Parses `text`; every name must be one of `variables` (their index is the input position).
    public init(_ text: String, variables: [String]) throws {
        var parser = Parser(text: Array(text.utf8), source: text, variables: variables)
        var program: [Op] = []
        try parser.expression(into: &program)
        parser.skipSpace()
        guard parser.position == parser.text.count else { throw parser.error("unexpected '\(parser.current)'") }
        self.text = text
        self.program = program
        var depth = 0
        var maxDepth = 0
        for op in program {
            switch op {
            case .push, .load: depth += 1
            case .add, .subtract, .multiply, .divide, .power: depth -= 1
            case .negate: break
            case .call(let f): depth -= f.arity - 1
            }
            maxDepth = Swift.max(maxDepth, depth)
        }
        self.stackDepth = maxDepth
    }

    /// The names the expression reads.
    public func variables(in all: [String]) -> [String] {
        program.compactMap { if case .load(let i) = $0 { all[i] } else { nil } }
    }

    public func evaluate(_ inputs: UnsafeBufferPointer<Double>) -> Double {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: Swift.max(stackDepth, 1)) { stack in
            var top = -1
            for op in program {
                switch op {
                case .push(let v):
                    top += 1
                    stack[top] = v
                case .load(let i):
                    top += 1
                    stack[top] = inputs[i]
                case .negate: stack[top] = -stack[top]
                case .add, .subtract, .multiply, .divide, .power:
                    let b = stack[top]
                    top -= 1
                    let a = stack[top]
                    switch op {
                    case .add: stack[top] = a + b
                    case .subtract: stack[top] = a - b
                    case .multiply: stack[top] = a * b
                    case .divide: stack[top] = a / b
                    default: stack[top] = FeatureExpression.power(a, b)
                    }
                case .call(let f):
                    switch f {
                    case .abs: stack[top] = Swift.abs(stack[top])
                    case .sqrt: stack[top] = stack[top].squareRoot()
                    case .log: stack[top] = Double.log(stack[top])
                    case .exp: stack[top] = Double.exp(stack[top])
                    case .min, .max, .pow:
                        let b = stack[top]
                        top -= 1
                        let a = stack[top]
                        stack[top] =
                            f == .min ? Swift.min(a, b) : f == .max ? Swift.max(a, b) : FeatureExpression.power(a, b)
                    }
                }
            }
            return stack[0]
        }
    }

    public func evaluate(_ inputs: [Double]) -> Double { inputs.withUnsafeBufferPointer { evaluate($0) } }

    private struct Parser {
        let text: [UInt8]
        let source: String
        let variables: [String]
        var position = 0

        var current: String { position < text.count ? String(UnicodeScalar(text[position])) : "end" }

        func error(_ message: String) -> LearnError {
            LearnError("expression '\(source)': \(message) at column \(position + 1)")
        }

        mutating func skipSpace() { while position < text.count && text[position] == 32 { position += 1 } }

        mutating func expression(into out: inout [Op]) throws {
            try term(into: &out)
            while true {
                skipSpace()
                guard position < text.count, text[position] == UInt8(ascii: "+") || text[position] == UInt8(ascii: "-")
                else { return }
                let op: Op = text[position] == UInt8(ascii: "+") ? .add : .subtract
                position += 1
                try term(into: &out)
                out.append(op)
            }
        }

        mutating func term(into out: inout [Op]) throws {
            try factor(into: &out)
            while true {
                skipSpace()
                guard position < text.count, text[position] == UInt8(ascii: "*") || text[position] == UInt8(ascii: "/")
                else { return }
                let op: Op = text[position] == UInt8(ascii: "*") ? .multiply : .divide
                position += 1
                try factor(into: &out)
                out.append(op)
            }
        }

        /// unary := '-' unary | power; power := primary ('^' unary)?   (so -a^2 = -(a^2) and 2^3^2 = 2^9)
        mutating func factor(into out: inout [Op]) throws { try unary(into: &out) }

        mutating func unary(into out: inout [Op]) throws {
            skipSpace()
            if position < text.count && text[position] == UInt8(ascii: "-") {
                position += 1
                try unary(into: &out)
                out.append(.negate)
                return
            }
            try primary(into: &out)
            skipSpace()
            if position < text.count && text[position] == UInt8(ascii: "^") {
                position += 1
                try unary(into: &out)
                out.append(.power)
            }
        }

        mutating func primary(into out: inout [Op]) throws {
            skipSpace()
            guard position < text.count else { throw error("expected a number, name or '('") }
            let c = text[position]
            if c == UInt8(ascii: "(") {
                position += 1
                try expression(into: &out)
                skipSpace()
                guard position < text.count && text[position] == UInt8(ascii: ")") else { throw error("expected ')'") }
                position += 1
                return
            }
            if (c >= 48 && c <= 57) || c == UInt8(ascii: ".") {
                let start = position
                while position < text.count,
                    (text[position] >= 48 && text[position] <= 57) || text[position] == UInt8(ascii: ".")
                        || text[position] == UInt8(ascii: "e") || text[position] == UInt8(ascii: "E")
                        || ((text[position] == UInt8(ascii: "-") || text[position] == UInt8(ascii: "+"))
                            && (text[position - 1] == UInt8(ascii: "e") || text[position - 1] == UInt8(ascii: "E")))
                {
                    position += 1
                }
                let literal = String(decoding: text[start..<position], as: UTF8.self)
                guard let value = Double(literal) else {
                    position = start
                    throw error("'\(literal)' is not a number")
                }
                out.append(.push(value))
                return
            }
            guard c == UInt8(ascii: "_") || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) else {
                throw error("unexpected '\(current)'")
            }
            let start = position
            while position < text.count,
                text[position] == UInt8(ascii: "_") || (text[position] >= 65 && text[position] <= 90)
                    || (text[position] >= 97 && text[position] <= 122) || (text[position] >= 48 && text[position] <= 57)
            {
                position += 1
            }
            let name = String(decoding: text[start..<position], as: UTF8.self)
            skipSpace()
            if position < text.count && text[position] == UInt8(ascii: "(") {
                guard let f = Function(rawValue: name) else {
                    position = start
                    throw error(
                        "unknown function '\(name)' (known: \(Function.allCases.map(\.rawValue).joined(separator: ", ")))"
                    )
                }
                position += 1
                for argument in 0..<f.arity {
                    try expression(into: &out)
                    skipSpace()
                    let expected = argument == f.arity - 1 ? UInt8(ascii: ")") : UInt8(ascii: ",")
                    guard position < text.count && text[position] == expected else {
                        throw error(
                            "\(name) takes \(f.arity) argument\(f.arity == 1 ? "" : "s"); expected '\(UnicodeScalar(expected))'"
                        )
                    }
                    position += 1
                }
                out.append(.call(f))
                return
            }
            if let index = variables.firstIndex(of: name) {
                out.append(.load(index))
            } else if name == "pi" {
                out.append(.push(Double.pi))
            } else if name == "e" {
                out.append(.push(Double.exp(1)))
            } else {
                position = start
                throw error("unknown name '\(name)' (inputs: \(variables.joined(separator: ", ")))")
            }
        }
    }
}

extension FeatureExpression {
    /// `a` to the power `b` as C's `pow`: a negative base with a whole exponent, and 0⁰, have a value (RealModule's
    /// real `pow` is defined for a positive base only).
    @inline(__always) static func power(_ a: Double, _ b: Double) -> Double {
        if let n = Int(exactly: b) { return Double.pow(a, n) }
        return Double.pow(a, b)
    }
}
