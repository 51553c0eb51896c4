import Foundation

/// The body of a TensorFlow Serving predict request, in the row (`instances`) or columnar (`inputs`) format,
/// checked against the model's signature.
struct PredictRequest {
    enum Format { case row, columnar }

    var format: Format
    var instances: [ServedModel.Instance]

    static let maxInstances = 100_000

    init(_ body: [String: Any], for model: ServedModel) throws {
        let rows = body["instances"], columns = body["inputs"]
        if rows != nil && columns != nil {
            throw APIError.badRequest("Not both 'instances' and 'inputs' can be specified in the request")
        }
        if let rows {
            format = .row
            guard let list = JSON.list(rows) else {
                throw APIError.badRequest("'instances' must be a list (one entry per instance)")
            }
            guard list.count <= Self.maxInstances else {
                throw APIError.badRequest("\(list.count) instances in one request; at most \(Self.maxInstances)")
            }
            instances = try list.enumerated().map {
                try Self.instance($0.element, at: "instances[\($0.offset)]", model)
            }
        } else if let columns {
            format = .columnar
            instances = try Self.columnar(columns, model)
        } else {
            throw APIError.badRequest("Missing 'inputs' or 'instances' key in the request body")
        }
        if let signature = body["signature_name"], !(signature is NSNull) {
            guard let s = signature as? String, s.isEmpty || s == "serving_default" else {
                throw APIError.badRequest(
                    "unknown signature_name '\(signature)'; the only signature is serving_default")
            }
        }
    }

    /// One instance of the row format: a value for a single input, or an object of named inputs.
    private static func instance(_ value: Any, at place: String, _ model: ServedModel) throws -> ServedModel.Instance {
        if let object = value as? [String: Any] {
            return try named(object.mapValues { Optional($0) }, at: place, model)
        }
        if model.inputs.count == 1 {
            return .init(numbers: [try vector(value, width: model.inputs[0].width, at: place)], strings: [])
        }
        // Several inputs given as one list, in signature order (strings for categorical inputs).
        guard let list = JSON.list(value), list.count == model.inputs.count else {
            throw APIError.badRequest(
                "\(place): the model has \(model.inputs.count) named inputs (\(model.inputs.map(\.name).joined(separator: ", "))); give an object of them or a list of \(model.inputs.count) values in that order"
            )
        }
        var instance = ServedModel.Instance(numbers: [], strings: [])
        for (input, v) in zip(model.inputs, list) {
            try add(v, for: input, at: "\(place).\(input.name)", to: &instance)
        }
        return instance
    }

    private static func named(_ object: [String: Any?], at place: String, _ model: ServedModel) throws
        -> ServedModel.Instance
    {
        let known = Set(model.inputs.map(\.name))
        if let extra = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError.badRequest(
                "\(place): unknown input '\(extra)'; the model's inputs are \(model.inputs.map(\.name).joined(separator: ", "))"
            )
        }
        var instance = ServedModel.Instance(numbers: [], strings: [])
        for input in model.inputs {
            guard let v = object[input.name], let v else {
                throw APIError.badRequest("\(place): input '\(input.name)' is missing")
            }
            try add(v, for: input, at: "\(place).\(input.name)", to: &instance)
        }
        return instance
    }

    private static func add(
        _ value: Any, for input: ServedModel.Input, at place: String, to i: inout ServedModel.Instance
    )
        throws
    {
        if input.categorical {
            guard let s = value as? String else { throw APIError.badRequest("\(place) must be a string") }
            i.strings.append(s)
        } else {
            i.numbers.append(
                try input.sequence == nil ? vector(value, width: input.width, at: place) : sequence(value, at: place))
        }
    }

    static let maxSequence = 100_000

    /// A window variable's readings, oldest first: one number, or a list of 1 to `maxSequence` finite numbers.
    private static func sequence(_ value: Any, at place: String) throws -> [Double] {
        if let n = JSON.number(value) {
            guard n.isFinite else { throw APIError.badRequest("\(place) is not a finite number") }
            return [n]
        }
        if let numbers = JSON.numbers(value), !numbers.isEmpty, numbers.count <= maxSequence { return numbers }
        guard let list = JSON.list(value), !list.isEmpty, list.count <= maxSequence else {
            throw APIError.badRequest(
                "\(place) must be a list of 1 to \(maxSequence) numbers (the variable's readings, oldest first)")
        }
        return try list.enumerated().map { k, v in
            guard let n = JSON.number(v) else { throw APIError.badRequest("\(place)[\(k)] is not a number: \(v)") }
            guard n.isFinite else { throw APIError.badRequest("\(place)[\(k)] is not a finite number") }
            return n
        }
    }

    /// A number (width 1) or a list of `width` finite numbers; `[[...]]` of one row is taken as the row.
    private static func vector(_ value: Any, width: Int, at place: String) throws -> [Double] {
        if width == 1, let n = JSON.number(value) {
            guard n.isFinite else { throw APIError.badRequest("\(place) is not a finite number") }
            return [n]
        }
        // The parser gives a list of numbers as one value (finite): no cast per value.
        if let numbers = JSON.numbers(value) ?? (JSON.list(value).flatMap { $0.count == 1 ? JSON.numbers($0[0]) : nil })
        {
            guard numbers.count == width else {
                throw APIError.badRequest("\(place) has \(numbers.count) values; the model takes \(width)")
            }
            return numbers
        }
        guard var list = JSON.list(value) else {
            throw APIError.badRequest("\(place) must be a list of \(width) numbers")
        }
        if list.count == 1, let inner = JSON.list(list[0]) { list = inner }
        guard list.count == width else {
            throw APIError.badRequest("\(place) has \(list.count) values; the model takes \(width)")
        }
        return try list.enumerated().map { k, v in
            guard let n = JSON.number(v) else { throw APIError.badRequest("\(place)[\(k)] is not a number: \(v)") }
            guard n.isFinite else { throw APIError.badRequest("\(place)[\(k)] is not a finite number") }
            return n
        }
    }

    /// The columnar format: one batch for a single input, or an object of batches per named input.
    private static func columnar(_ value: Any, _ model: ServedModel) throws -> [ServedModel.Instance] {
        var batches: [String: [Any]] = [:]
        if let object = value as? [String: Any] {
            for (name, batch) in object {
                guard model.inputs.contains(where: { $0.name == name }) else {
                    throw APIError.badRequest(
                        "inputs: unknown input '\(name)'; the model's inputs are \(model.inputs.map(\.name).joined(separator: ", "))"
                    )
                }
                guard let list = JSON.list(batch) else {
                    throw APIError.badRequest("inputs.\(name) must be a list (one entry per instance)")
                }
                batches[name] = list
            }
        } else if model.inputs.count == 1, let list = JSON.list(value) {
            batches[model.inputs[0].name] = list
        } else {
            throw APIError.badRequest(
                "'inputs' must be a list of instances or an object of named inputs (\(model.inputs.map(\.name).joined(separator: ", ")))"
            )
        }
        var count: Int?
        for input in model.inputs {
            guard let list = batches[input.name] else {
                throw APIError.badRequest("inputs: input '\(input.name)' is missing")
            }
            if let count, count != list.count {
                throw APIError.badRequest(
                    "inputs: input '\(input.name)' has \(list.count) entries, others have \(count); every input needs one per instance"
                )
            }
            count = list.count
        }
        guard let n = count, n <= maxInstances else {
            throw APIError.badRequest("too many instances in one request; at most \(maxInstances)")
        }
        return try (0..<n).map { r in
            var instance = ServedModel.Instance(numbers: [], strings: [])
            for input in model.inputs {
                try add(batches[input.name]![r], for: input, at: "inputs.\(input.name)[\(r)]", to: &instance)
            }
            return instance
        }
    }
}
