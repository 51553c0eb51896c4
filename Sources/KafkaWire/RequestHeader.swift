public import NIOCore

/// Request header v1 (client id) or v2 (v1 + tagged fields, for flexible request versions).
/// The client id always has the old two-byte length, so any broker can read the header of any ApiVersions request.
public struct RequestHeader: Sendable, Equatable {
    public var apiKey: ApiKey
    public var apiVersion: Int16
    public var correlationID: Int32
    public var clientID: String?

    public init(apiKey: ApiKey, apiVersion: Int16, correlationID: Int32, clientID: String? = "millstream") {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationID = correlationID
        self.clientID = clientID
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(apiKey.rawValue, endianness: .big)
        buffer.writeInteger(apiVersion, endianness: .big)
        buffer.writeInteger(correlationID, endianness: .big)
        buffer.writeKafkaString(clientID)
        if apiKey.isFlexible(apiVersion) { buffer.writeNoTaggedFields() }
    }

    public static func read(from buffer: inout ByteBuffer) throws(KafkaWireError) -> RequestHeader {
        let key: Int16 = try buffer.readKafkaInteger("request api key")
        guard let apiKey = ApiKey(rawValue: key) else { throw KafkaWireError("unknown request api key \(key)") }
        let version: Int16 = try buffer.readKafkaInteger("request api version")
        let correlation: Int32 = try buffer.readKafkaInteger("correlation id")
        let client = try buffer.readKafkaString("client id", nullable: true)
        if apiKey.isFlexible(version) { try buffer.readTaggedFields("request header") }
        return RequestHeader(apiKey: apiKey, apiVersion: version, correlationID: correlation, clientID: client)
    }
}

/// Response header v0 (correlation id) or v1 (+ tagged fields). ApiVersions responses always use v0.
public enum ResponseHeader {
    public static func usesTaggedFields(_ apiKey: ApiKey, _ version: Int16) -> Bool {
        apiKey != .apiVersions && apiKey.isFlexible(version)
    }

    public static func read(from buffer: inout ByteBuffer, apiKey: ApiKey, version: Int16) throws(KafkaWireError)
        -> Int32
    {
        let correlation: Int32 = try buffer.readKafkaInteger("response correlation id")
        if usesTaggedFields(apiKey, version) { try buffer.readTaggedFields("response header") }
        return correlation
    }

    public static func write(to buffer: inout ByteBuffer, correlationID: Int32, apiKey: ApiKey, version: Int16) {
        buffer.writeInteger(correlationID, endianness: .big)
        if usesTaggedFields(apiKey, version) { buffer.writeNoTaggedFields() }
    }
}
