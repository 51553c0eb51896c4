import Foundation

/// ONNX's Conv, GRU and LSTM, as the interpreter runs them: direct loops (imported models are small; Millstream's own
/// layers run their GEMM forms).
enum ONNXSequenceOperators {
    /// Conv over 1 or 2 spatial axes: X (N, C, [H,] W), W (M, C, [kH,] kW), optional B (M); pads, strides,
    /// dilations; one group.
    static func conv(
        _ x: ONNXTensor, _ w: ONNXTensor, _ b: ONNXTensor?, attributes a: ONNXModel.Node
    ) throws -> ONNXTensor {
        let spatial = x.shape.count - 2
        guard spatial == 1 || spatial == 2, w.shape.count == x.shape.count else {
            throw LearnError(
                "ONNX Conv '\(a.name)': input \(x.shape) and kernel \(w.shape) are not a 1-D or 2-D convolution")
        }
        guard (a.ints["group"] ?? 1) == 1 else { throw LearnError("ONNX Conv '\(a.name)': groups are not supported") }
        if let pad = a.strings["auto_pad"]?.first, pad != "NOTSET" {
            throw LearnError("ONNX Conv '\(a.name)': auto_pad \(pad) is not supported (explicit pads are)")
        }
        // As 2-D with a height of 1 for 1-D.
        let n = x.shape[0], c = x.shape[1]
        let h = spatial == 2 ? x.shape[2] : 1, wd = x.shape.last!
        let m = w.shape[0], kh = spatial == 2 ? w.shape[2] : 1, kw = w.shape.last!
        guard w.shape[1] == c else {
            throw LearnError("ONNX Conv '\(a.name)': kernel \(w.shape) does not take \(c) channels")
        }
        func two(_ v: [Int]?, _ fallback: Int) -> [Int] {
            guard let v else { return [fallback, fallback] }
            return spatial == 2 ? v : [fallback, v[0]]
        }
        let strides = two(a.intLists["strides"], 1), dilations = two(a.intLists["dilations"], 1)
        let pads = a.intLists["pads"] ?? [Int](repeating: 0, count: 2 * spatial)
        let (top, left, bottom, right) =
            spatial == 2 ? (pads[0], pads[1], pads[2], pads[3]) : (0, pads[0], 0, pads[1])
        let oh = (h + top + bottom - dilations[0] * (kh - 1) - 1) / strides[0] + 1
        let ow = (wd + left + right - dilations[1] * (kw - 1) - 1) / strides[1] + 1
        guard oh > 0 && ow > 0 else { throw LearnError("ONNX Conv '\(a.name)': the kernel is longer than the input") }
        var out = [Float](repeating: 0, count: n * m * oh * ow)
        for s in 0..<n {
            for f in 0..<m {
                let bias = b?.values[f] ?? 0
                for i in 0..<oh {
                    for j in 0..<ow {
                        var sum = bias
                        for ch in 0..<c {
                            for u in 0..<kh {
                                let y = i * strides[0] + u * dilations[0] - top
                                guard y >= 0 && y < h else { continue }
                                for v in 0..<kw {
                                    let xx = j * strides[1] + v * dilations[1] - left
                                    guard xx >= 0 && xx < wd else { continue }
                                    sum +=
                                        x.values[((s * c + ch) * h + y) * wd + xx]
                                        * w.values[((f * c + ch) * kh + u) * kw + v]
                                }
                            }
                        }
                        out[((s * m + f) * oh + i) * ow + j] = sum
                    }
                }
            }
        }
        return ONNXTensor(shape: spatial == 2 ? [n, m, oh, ow] : [n, m, ow], values: out)
    }

    /// The pieces GRU and LSTM share: X as (T, N, I), the weights of the forward direction, the initial states.
    struct Recurrent {
        var steps: Int
        var batch: Int
        var inputs: Int
        var hidden: Int
        var batchFirst: Bool
        /// X[t] for sample s: the inputs' offset.
        func x(_ t: Int, _ s: Int) -> Int { batchFirst ? (s * steps + t) * inputs : (t * batch + s) * inputs }

        init(_ op: String, _ node: ONNXModel.Node, x: ONNXTensor, w: ONNXTensor, gates: Int) throws {
            guard x.shape.count == 3, w.shape.count == 3 else {
                throw LearnError("ONNX \(op) '\(node.name)': X \(x.shape) and W \(w.shape) must be rank 3")
            }
            if let direction = node.strings["direction"]?.first, direction != "forward" {
                throw LearnError("ONNX \(op) '\(node.name)': direction \(direction) is not supported (forward is)")
            }
            if node.floats["clip"] != nil { throw LearnError("ONNX \(op) '\(node.name)': clip is not supported") }
            let defaults = op == "GRU" ? ["Sigmoid", "Tanh"] : ["Sigmoid", "Tanh", "Tanh"]
            if let activations = node.strings["activations"], activations != defaults {
                throw LearnError(
                    "ONNX \(op) '\(node.name)': activations \(activations) are not supported (\(defaults) are)")
            }
            batchFirst = (node.ints["layout"] ?? 0) == 1
            steps = batchFirst ? x.shape[1] : x.shape[0]
            batch = batchFirst ? x.shape[0] : x.shape[1]
            inputs = x.shape[2]
            hidden = node.ints["hidden_size"] ?? w.shape[1] / gates
            guard w.shape[0] == 1, w.shape[1] == gates * hidden, w.shape[2] == inputs else {
                throw LearnError(
                    "ONNX \(op) '\(node.name)': W \(w.shape) does not fit X \(x.shape) and \(hidden) units")
            }
        }

        /// Y as (T, 1, N, H) or (N, T, 1, H) for layout 1, from per-step states.
        func output(_ states: [[Float]]) -> ONNXTensor {
            var y = [Float](repeating: 0, count: steps * batch * hidden)
            for t in 0..<steps {
                for s in 0..<batch {
                    let dst = batchFirst ? (s * steps + t) * hidden : (t * batch + s) * hidden
                    for k in 0..<hidden { y[dst + k] = states[t][s * hidden + k] }
                }
            }
            return ONNXTensor(shape: batchFirst ? [batch, steps, 1, hidden] : [steps, 1, batch, hidden], values: y)
        }

        func state(_ h: [Float]) -> ONNXTensor {
            ONNXTensor(shape: batchFirst ? [batch, 1, hidden] : [1, batch, hidden], values: h)
        }

        /// initial_h / initial_c, or zeros.
        func initial(_ t: ONNXTensor?) -> [Float] { t?.values ?? [Float](repeating: 0, count: batch * hidden) }

        /// sum_j X[t, s, j] W[g, j] + sum_j H[s, j] R[g, j] + Wb[g] + Rb[g] for each of `gates * hidden` rows g.
        func preactivations(
            x: ONNXTensor, t: Int, s: Int, w: ONNXTensor, h: ArraySlice<Float>, r: ONNXTensor, b: ONNXTensor?,
            gates: Int
        ) -> (input: [Float], recurrent: [Float]) {
            let rows = gates * hidden
            var input = [Float](repeating: 0, count: rows)
            var recurrent = [Float](repeating: 0, count: rows)
            let xo = self.x(t, s)
            for g in 0..<rows {
                var a = b?.values[g] ?? 0
                for j in 0..<inputs { a += x.values[xo + j] * w.values[g * inputs + j] }
                input[g] = a
                var c = b?.values[rows + g] ?? 0
                for (j, hj) in h.enumerated() { c += hj * r.values[g * hidden + j] }
                recurrent[g] = c
            }
            return (input, recurrent)
        }
    }

    /// GRU (gates z, r, h; `linear_before_reset` 1 is Keras's reset_after): outputs Y and Y_h.
    static func gru(_ node: ONNXModel.Node, _ inputs: [ONNXTensor?]) throws -> [ONNXTensor] {
        guard let x = inputs[0], let w = inputs[1], let r = inputs[2] else {
            throw LearnError("ONNX GRU '\(node.name)' needs X, W and R")
        }
        let p = try Recurrent("GRU", node, x: x, w: w, gates: 3)
        try checkSequenceLengths(inputs.count > 4 ? inputs[4] : nil, p, node)
        let b = inputs.count > 3 ? inputs[3] : nil
        let beforeReset = (node.ints["linear_before_reset"] ?? 0) == 1
        let hu = p.hidden
        var h = p.initial(inputs.count > 5 ? inputs[5] : nil)
        var states: [[Float]] = []
        for t in 0..<p.steps {
            var next = h
            for s in 0..<p.batch {
                let previous = h[(s * hu)..<((s + 1) * hu)]
                let (xi, hr) = p.preactivations(x: x, t: t, s: s, w: w, h: previous, r: r, b: b, gates: 3)
                var reset = [Float](repeating: 0, count: hu)
                for k in 0..<hu { reset[k] = Activation.sigmoid(xi[hu + k] + hr[hu + k]) }
                var candidateRecurrent = [Float](repeating: 0, count: hu)
                if beforeReset {
                    for k in 0..<hu { candidateRecurrent[k] = reset[k] * hr[2 * hu + k] }
                } else {
                    // (r ⊙ H) Rhᵀ + Rbh.
                    for k in 0..<hu {
                        var c = b?.values[5 * hu + k] ?? 0
                        for j in 0..<hu {
                            c += reset[j] * previous[previous.startIndex + j] * r.values[(2 * hu + k) * hu + j]
                        }
                        candidateRecurrent[k] = c
                    }
                }
                for k in 0..<hu {
                    let z = Activation.sigmoid(xi[k] + hr[k])
                    let candidate = Foundation.tanh(xi[2 * hu + k] + candidateRecurrent[k])
                    next[s * hu + k] = (1 - z) * candidate + z * previous[previous.startIndex + k]
                }
            }
            h = next
            states.append(h)
        }
        return [p.output(states), p.state(h)]
    }

    /// LSTM (gates i, o, f, c; optional peepholes): outputs Y, Y_h and Y_c.
    static func lstm(_ node: ONNXModel.Node, _ inputs: [ONNXTensor?]) throws -> [ONNXTensor] {
        guard let x = inputs[0], let w = inputs[1], let r = inputs[2] else {
            throw LearnError("ONNX LSTM '\(node.name)' needs X, W and R")
        }
        guard (node.ints["input_forget"] ?? 0) == 0 else {
            throw LearnError("ONNX LSTM '\(node.name)': input_forget is not supported")
        }
        let p = try Recurrent("LSTM", node, x: x, w: w, gates: 4)
        try checkSequenceLengths(inputs.count > 4 ? inputs[4] : nil, p, node)
        let b = inputs.count > 3 ? inputs[3] : nil
        let peep = inputs.count > 7 ? inputs[7] : nil
        let hu = p.hidden
        var h = p.initial(inputs.count > 5 ? inputs[5] : nil)
        var c = p.initial(inputs.count > 6 ? inputs[6] : nil)
        var states: [[Float]] = []
        for t in 0..<p.steps {
            var nextH = h
            for s in 0..<p.batch {
                let (xi, hr) = p.preactivations(
                    x: x, t: t, s: s, w: w, h: h[(s * hu)..<((s + 1) * hu)], r: r, b: b, gates: 4)
                for k in 0..<hu {
                    let cell = c[s * hu + k]
                    let pi = peep?.values[k] ?? 0, po = peep?.values[hu + k] ?? 0, pf = peep?.values[2 * hu + k] ?? 0
                    let i = Activation.sigmoid(xi[k] + hr[k] + pi * cell)
                    let f = Activation.sigmoid(xi[2 * hu + k] + hr[2 * hu + k] + pf * cell)
                    let candidate = Foundation.tanh(xi[3 * hu + k] + hr[3 * hu + k])
                    let newCell = f * cell + i * candidate
                    let o = Activation.sigmoid(xi[hu + k] + hr[hu + k] + po * newCell)
                    c[s * hu + k] = newCell
                    nextH[s * hu + k] = o * Foundation.tanh(newCell)
                }
            }
            h = nextH
            states.append(h)
        }
        return [p.output(states), p.state(h), p.state(c)]
    }

    /// sequence_lens shorter than the sequence (padded batches) are refused rather than run wrongly.
    static func checkSequenceLengths(_ lengths: ONNXTensor?, _ p: Recurrent, _ node: ONNXModel.Node) throws {
        guard let lengths else { return }
        if (lengths.integers ?? lengths.values.map { Int($0) }).contains(where: { $0 != p.steps }) {
            throw LearnError("ONNX \(node.op) '\(node.name)': sequence lengths below the sequence's are not supported")
        }
    }
}
