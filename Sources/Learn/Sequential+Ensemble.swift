extension Sequential {
    /// One model equal to averaging the members' pre-activation outputs (logits), built as a single wider network:
    /// the first Dense layer concatenates the members' kernels, later ones are block-diagonal, and the output layer
    /// stacks the members' output kernels divided by their number. So an ensemble is saved, served and exported like
    /// any Sequential model.
    ///
    /// Members must share one architecture of Dense (and Dropout) layers.
    public static func averaging(_ members: [Sequential]) throws -> Sequential {
        guard let first = members.first else { throw LearnError("an ensemble needs at least one member") }
        guard members.count > 1 else { return first }
        let k = members.count
        guard members.allSatisfy({ $0.configurations == first.configurations && $0.inputSize == first.inputSize })
        else {
            throw LearnError("ensemble members must share one architecture")
        }
        let denseIndices = first.layers.indices.filter { first.layers[$0] is Dense }
        guard first.layers.allSatisfy({ $0 is Dense || $0 is Dropout }), let last = denseIndices.last,
            last == first.layers.count - 1
        else { throw LearnError("an ensemble can be merged from Dense and Dropout layers ending in Dense only") }
        var layers: [any Layer] = []
        for (i, layer) in first.layers.enumerated() {
            if let dense = layer as? Dense {
                layers.append(
                    Dense(
                        i == last ? dense.units : dense.units * k, activation: dense.activation, useBias: dense.useBias)
                )
            } else if let dropout = layer as? Dropout {
                layers.append(Dropout(dropout.rate))
            }
        }
        let merged = try Sequential(layers, inputSize: first.inputSize)
        var previousUnits = first.inputSize  // of one member
        var isFirstDense = true
        for i in denseIndices {
            let target = merged.layers[i] as! Dense
            let units = (first.layers[i] as! Dense).units
            let mergedColumns = target.units
            var kernel = [Float](repeating: 0, count: target.kernel.value.count)
            var bias = [Float](repeating: 0, count: target.units)
            for (m, member) in members.enumerated() {
                let source = member.layers[i] as! Dense
                for r in 0..<previousUnits {
                    let row = isFirstDense ? r : m * previousUnits + r
                    for c in 0..<units {
                        let value = source.kernel.value[r * units + c]
                        if i == last {
                            kernel[row * mergedColumns + c] += value / Float(k)
                        } else {
                            kernel[row * mergedColumns + m * units + c] = value
                        }
                    }
                }
                if let b = source.bias {
                    for c in 0..<units {
                        if i == last { bias[c] += b.value[c] / Float(k) } else { bias[m * units + c] = b.value[c] }
                    }
                }
            }
            target.kernel.value = kernel
            target.bias?.value = bias
            previousUnits = units
            isFirstDense = false
        }
        return merged
    }
}
