import Foundation
import GRPCCore
import GRPCProtobuf
import Registry
import ServingProto
import SwiftProtobuf

/// Predict over gRPC, on the same models, versions, labels and tokens as the REST API: TensorFlow Serving's
/// `tensorflow.serving.PredictionService/Predict` and the Open Inference Protocol's (KServe v2)
/// `inference.GRPCInferenceService` (ServerLive, ServerReady, ModelReady, ModelInfer).
///
/// A call carries the token as `authorization: Bearer ...` metadata and needs the viewer role, as REST predict does;
/// the liveness and readiness calls need none. Errors are gRPC statuses with the REST API's messages: NOT_FOUND for
/// an unknown model, version or label, INVALID_ARGUMENT for a request that does not fit the model's signature,
/// UNAUTHENTICATED and PERMISSION_DENIED for tokens.
struct GRPCPredictService: RegistrableRPCService {
    let models: ModelServer
    let tokens: TokenStore
    let metrics: ServerMetrics

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let tfs = "tensorflow.serving.PredictionService"
        let oip = "inference.GRPCInferenceService"
        unary(&router, tfs, "Predict") { (r: Tensorflow_Serving_PredictRequest) in try predict(r) }
        unary(&router, oip, "ModelInfer") { (r: Inference_ModelInferRequest) in try infer(r) }
        unary(&router, oip, "ModelReady") { (r: Inference_ModelReadyRequest) in
            Inference_ModelReadyResponse.with {
                $0.ready = (try? models.load(try models.resolve(r.name, Self.selector(r.version)))) != nil
            }
        }
        unary(&router, oip, "ServerLive", authorized: false) { (_: Inference_ServerLiveRequest) in
            Inference_ServerLiveResponse.with { $0.live = true }
        }
        unary(&router, oip, "ServerReady", authorized: false) { (_: Inference_ServerReadyRequest) in
            Inference_ServerReadyResponse.with { $0.ready = true }
        }
    }

    /// Registers a unary method: the token checked (unless `authorized` is false), errors as gRPC statuses.
    private func unary<T: ServerTransport, Input: Message & Sendable, Output: Message & Sendable>(
        _ router: inout RPCRouter<T>, _ service: String, _ method: String, authorized: Bool = true,
        _ body: @escaping @Sendable (Input) throws -> Output
    ) {
        let tokens = self.tokens
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: service, method: method),
            deserializer: ProtobufDeserializer<Input>(), serializer: ProtobufSerializer<Output>()
        ) { request, _ in
            let single = try await ServerRequest(stream: request)
            do {
                if authorized { try Self.authorize(single.metadata, tokens) }
                return StreamingServerResponse(single: ServerResponse(message: try body(single.message)))
            } catch let error as APIError {
                throw RPCError(code: Self.code(error), message: error.message)
            } catch let error as RPCError {
                throw error
            } catch {
                throw RPCError(code: .invalidArgument, message: "\(error)")
            }
        }
    }

    static func authorize(_ metadata: Metadata, _ tokens: TokenStore) throws {
        guard let header = metadata["authorization"].first(where: { _ in true }), case .string(let value) = header,
            value.lowercased().hasPrefix("bearer ")
        else {
            throw RPCError(code: .unauthenticated, message: "missing 'authorization: Bearer TOKEN' metadata")
        }
        switch tokens.verify(String(value.dropFirst("bearer ".count))) {
        case .valid(let identity):
            guard identity.role >= .viewer else {
                throw RPCError(code: .permissionDenied, message: "predict needs the viewer role")
            }
        case .expired:
            throw RPCError(code: .unauthenticated, message: "the token has expired")
        case .unknown:
            throw RPCError(code: .unauthenticated, message: "unknown token")
        }
    }

    static func code(_ error: APIError) -> RPCError.Code {
        switch error.status.code {
        case 400, 413: .invalidArgument
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .notFound
        case 503: .unavailable
        default: .internalError
        }
    }

    /// TensorFlow Serving's version selection: a number, a label, or neither (the default version).
    static func selector(_ text: String) -> ModelServer.Selector {
        if text.isEmpty { return .latest }
        return Int(text) != nil ? .version(text) : .label(text)
    }

    // MARK: - TensorFlow Serving

    func predict(_ request: Tensorflow_Serving_PredictRequest) throws -> Tensorflow_Serving_PredictResponse {
        let spec = request.modelSpec
        guard !spec.name.isEmpty else { throw APIError.badRequest("model_spec.name is empty") }
        guard spec.signatureName.isEmpty || spec.signatureName == "serving_default" else {
            throw APIError.badRequest(
                "unknown signature_name '\(spec.signatureName)'; the only signature is serving_default")
        }
        let selector: ModelServer.Selector =
            spec.hasVersion
            ? .version(String(spec.version.value)) : spec.versionLabel.isEmpty ? .latest : .label(spec.versionLabel)
        let started = ContinuousClock.now
        let model = try models.load(try models.resolve(spec.name, selector))
        let tensors = try request.inputs.mapValues { try Tensor(tensorflow: $0) }
        let (rows, outputs) = try model.predict(named: tensors)
        metrics.predictDuration(seconds: (ContinuousClock.now - started).seconds, instances: rows)
        return .with {
            $0.modelSpec = .with {
                $0.name = model.version.name
                $0.version = .init(Int64(model.version.version))
                $0.signatureName = "serving_default"
            }
            $0.outputs[model.outputName] = .with {
                $0.dtype = .dtFloat
                $0.tensorShape = .with {
                    $0.dim = [rows, model.outputWidth].map { n in .with { $0.size = Int64(n) } }
                }
                $0.floatVal = outputs
            }
        }
    }

    // MARK: - Open Inference Protocol

    func infer(_ request: Inference_ModelInferRequest) throws -> Inference_ModelInferResponse {
        guard !request.modelName.isEmpty else { throw APIError.badRequest("model_name is empty") }
        let started = ContinuousClock.now
        let model = try models.load(try models.resolve(request.modelName, Self.selector(request.modelVersion)))
        let raw = !request.rawInputContents.isEmpty
        if raw && request.rawInputContents.count != request.inputs.count {
            throw APIError.badRequest(
                "\(request.rawInputContents.count) raw_input_contents for \(request.inputs.count) inputs")
        }
        var tensors: [String: Tensor] = [:]
        for (i, input) in request.inputs.enumerated() {
            tensors[input.name] = try Tensor(input, raw: raw ? request.rawInputContents[i] : nil)
        }
        let (rows, outputs) = try model.predict(named: tensors)
        metrics.predictDuration(seconds: (ContinuousClock.now - started).seconds, instances: rows)
        return .with {
            $0.modelName = model.version.name
            $0.modelVersion = String(model.version.version)
            $0.id = request.id
            $0.outputs = [
                .with {
                    $0.name = model.outputName
                    $0.datatype = "FP32"
                    $0.shape = [Int64(rows), Int64(model.outputWidth)]
                    if !raw { $0.contents.fp32Contents = outputs }
                }
            ]
            // The protocol's convention: raw in, raw out (little-endian FP32).
            if raw { $0.rawOutputContents = [outputs.withUnsafeBytes { Data($0) }] }
        }
    }
}

extension GRPCPredictService {
    /// A request's tensor: its shape and its numbers (as Double) or strings.
    struct Tensor {
        var shape: [Int]
        var numbers: [Double]
        var strings: [String]

        init(tensorflow t: Tensorflow_Serving_TensorProto) throws {
            shape = t.tensorShape.dim.map { Int($0.size) }
            strings = []
            switch t.dtype {
            case .dtFloat:
                numbers =
                    t.tensorContent.isEmpty ? t.floatVal.map(Double.init) : try Self.little(Float.self, t.tensorContent)
            case .dtDouble:
                numbers = t.tensorContent.isEmpty ? t.doubleVal : try Self.little(Double.self, t.tensorContent)
            case .dtInt32:
                numbers =
                    t.tensorContent.isEmpty ? t.intVal.map(Double.init) : try Self.little(Int32.self, t.tensorContent)
            case .dtInt64:
                numbers =
                    t.tensorContent.isEmpty ? t.int64Val.map(Double.init) : try Self.little(Int64.self, t.tensorContent)
            case .dtString:
                numbers = []
                strings = t.stringVal.map { String(decoding: $0, as: UTF8.self) }
            default:
                throw APIError.badRequest(
                    "tensor dtype \(t.dtype) is not supported (float, double, int32, int64, string)")
            }
        }

        init(_ t: Inference_ModelInferRequest.InferInputTensor, raw: Data?) throws {
            shape = t.shape.map { Int($0) }
            strings = []
            numbers = []
            let c = t.contents
            switch t.datatype {
            case "FP32": numbers = try raw.map { try Self.little(Float.self, $0) } ?? c.fp32Contents.map(Double.init)
            case "FP64": numbers = try raw.map { try Self.little(Double.self, $0) } ?? c.fp64Contents
            case "INT32": numbers = try raw.map { try Self.little(Int32.self, $0) } ?? c.intContents.map(Double.init)
            case "INT64": numbers = try raw.map { try Self.little(Int64.self, $0) } ?? c.int64Contents.map(Double.init)
            case "BYTES":
                guard raw == nil else {
                    throw APIError.badRequest("input '\(t.name)': BYTES in raw_input_contents are not supported")
                }
                strings = c.bytesContents.map { String(decoding: $0, as: UTF8.self) }
            default:
                throw APIError.badRequest(
                    "input '\(t.name)': datatype '\(t.datatype)' is not supported (FP32, FP64, INT32, INT64, BYTES)")
            }
        }

        /// Little-endian values of type T in `data`, as Doubles.
        static func little<T: FixedWidthInteger>(_: T.Type, _ data: Data) throws -> [Double] {
            try check(data, MemoryLayout<T>.size)
            return data.withUnsafeBytes { b in
                (0..<(data.count / MemoryLayout<T>.size)).map {
                    Double(T(littleEndian: b.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)))
                }
            }
        }

        static func little<T: BinaryFloatingPoint>(_: T.Type, _ data: Data) throws -> [Double] {
            try check(data, MemoryLayout<T>.size)
            return data.withUnsafeBytes { b in
                (0..<(data.count / MemoryLayout<T>.size)).map {
                    Double(b.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))
                }
            }
        }

        static func check(_ data: Data, _ size: Int) throws {
            guard data.count % size == 0 else {
                throw APIError.badRequest("\(data.count) bytes of tensor content are not a whole number of values")
            }
        }

        /// Rows (the first dimension) and values per row; a scalar-per-row tensor ([N]) has width 1.
        func rowsAndWidth(_ name: String) throws -> (rows: Int, width: Int) {
            guard let rows = shape.first, rows >= 0, shape.allSatisfy({ $0 >= 0 }) else {
                throw APIError.badRequest("input '\(name)': the shape \(shape) has no batch dimension")
            }
            let width = shape.dropFirst().reduce(1, *)
            let count = strings.isEmpty ? numbers.count : strings.count
            guard count == rows * width else {
                throw APIError.badRequest("input '\(name)': shape \(shape) needs \(rows * width) values, got \(count)")
            }
            return (rows, width)
        }
    }
}

extension ServedModel {
    /// Scores the named tensors of a gRPC request (one per input of the signature, batch first; a model with one
    /// input also takes a single tensor of any name): the row count and the outputs, row after row.
    func predict(named tensors: [String: GRPCPredictService.Tensor]) throws -> (rows: Int, outputs: [Float]) {
        var byInput: [GRPCPredictService.Tensor] = []
        for input in inputs {
            if let t = tensors[input.name] {
                byInput.append(t)
            } else if inputs.count == 1, tensors.count == 1, let t = tensors.values.first {
                byInput.append(t)
            } else {
                throw APIError.badRequest(
                    "missing input '\(input.name)' (the signature's inputs: \(inputs.map(\.name).joined(separator: ", ")))"
                )
            }
        }
        if let extra = tensors.keys.first(where: { k in !inputs.contains { $0.name == k } }), inputs.count > 1 {
            throw APIError.badRequest("unknown input '\(extra)'")
        }
        var rows: Int?
        for (input, t) in zip(inputs, byInput) {
            let (n, width) = try t.rowsAndWidth(input.name)
            guard width == (input.categorical ? 1 : input.width) else {
                throw APIError.badRequest(
                    "input '\(input.name)' has \(width) values per row; the model takes \(input.width)")
            }
            guard input.categorical == !t.strings.isEmpty || n == 0 else {
                throw APIError.badRequest(
                    "input '\(input.name)' takes \(input.categorical ? "strings" : "numbers")")
            }
            guard rows == nil || rows == n else {
                throw APIError.badRequest("the inputs have different batch sizes (\(rows!) and \(n))")
            }
            rows = n
        }
        let n = rows ?? 0
        guard n <= PredictRequest.maxInstances else {
            throw APIError.badRequest("\(n) instances in one request; at most \(PredictRequest.maxInstances)")
        }
        if case .network(let model, nil, _, _) = engine, inputs.count == 1, !inputs[0].categorical {
            // One numeric tensor and no preprocessing: its rows are the network's input matrix, scored as one batch
            // without building an instance per row.
            return (n, model.predict(rows: n, byInput[0].numbers.map(Float.init)))
        }
        let instances = (0..<n).map { r -> Instance in
            var instance = Instance(numbers: [], strings: [])
            for (input, t) in zip(inputs, byInput) {
                if input.categorical {
                    instance.strings.append(t.strings[r])
                } else {
                    instance.numbers.append(Array(t.numbers[(r * input.width)..<((r + 1) * input.width)]))
                }
            }
            return instance
        }
        return (n, try predict(instances).flatMap { $0 })
    }
}
