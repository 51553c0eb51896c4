import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Topics

/// JSON in and out of handlers. Foundation's serializer: the API's answers are small and its work is not the hot path.
enum JSON {
    /// Encodes an object built of dictionaries, arrays, strings, numbers, booleans and NSNull (sorted keys).
    static func encode(_ value: Any) -> [UInt8] {
        let clean = sanitize(value)
        guard let data = try? JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys, .fragmentsAllowed])
        else { return Array(#"{"error":"unencodable answer"}"#.utf8) }
        return [UInt8](data)
    }

    /// NaN and infinity have no JSON form: they become null.
    private static func sanitize(_ value: Any) -> Any {
        switch value {
        case let d as Double: return d.isFinite ? d : NSNull()
        case let f as Float: return f.isFinite ? Double(f) : NSNull()
        case let a as [Any]: return a.map(sanitize)
        case let o as [String: Any]: return o.mapValues(sanitize)
        default: return value
        }
    }

    /// Parses a request body that must be a JSON object, with the fast parser (the predict path).
    static func fastObject(_ bytes: ByteBuffer) throws -> [String: Any] {
        guard bytes.readableBytes > 0 else {
            throw APIError.badRequest("the request body is empty; expected a JSON object")
        }
        guard let object = try JSONParser.parse(Array(buffer: bytes)) as? [String: Any] else {
            throw APIError.badRequest("the request body must be a JSON object")
        }
        return object
    }

    /// Parses a request body that must be a JSON object.
    static func object(_ bytes: ByteBuffer) throws -> [String: Any] {
        guard bytes.readableBytes > 0 else {
            throw APIError.badRequest("the request body is empty; expected a JSON object")
        }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(buffer: bytes), options: [.fragmentsAllowed])
        } catch {
            throw APIError.badRequest("JSON Parse error: the body is not valid JSON (\(error.localizedDescription))")
        }
        guard let object = value as? [String: Any] else {
            throw APIError.badRequest("the request body must be a JSON object")
        }
        return object
    }

    static func response(_ value: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: encode(value))))
    }

    /// A topic record (or part of one) as the dictionaries and arrays `encode` takes: one encoder for the record,
    /// whether it goes on the bus or into an answer.
    static func any(_ record: some Encodable) -> Any {
        guard let bytes = try? RecordEncoder.encode(record),
            let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        else { return NSNull() }
        return object
    }

    /// Foundation gives JSON booleans as NSNumber too; their type code is "c" (no JSON number decodes to a char).
    static func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    /// A parsed JSON array: `[Any]`, or the fast parser's list of numbers.
    static func list(_ value: Any?) -> [Any]? {
        if let n = value as? JSONNumbers { return n.values }
        return value as? [Any]
    }

    /// A parsed JSON array of numbers only: the fast parser's list, else a `[Double]` (JSONSerialization's).
    static func numbers(_ value: Any?) -> [Double]? {
        if let n = value as? JSONNumbers { return n.values }
        return value as? [Double]
    }

    /// A JSON number as Double (JSONSerialization gives NSNumber; booleans are refused).
    static func number(_ value: Any?) -> Double? {
        if let d = value as? Double, type(of: value!) == Double.self { return d }  // JSONParser's numbers
        guard let n = value as? NSNumber, !isBoolean(n) else { return nil }
        return n.doubleValue
    }
}
