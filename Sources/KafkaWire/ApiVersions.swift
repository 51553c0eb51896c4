public import NIOCore

// ApiVersions (key 18), versions 0-3. v3 is flexible in its body only; its response header stays v0.

/// Asks a broker which versions of each API it supports.
public struct ApiVersionsRequest: Sendable, Equatable {
    public var clientSoftwareName: String
    public var clientSoftwareVersion: String

    public init(clientSoftwareName: String = "millstream", clientSoftwareVersion: String = "0.1.0") {
        self.clientSoftwareName = clientSoftwareName
        self.clientSoftwareVersion = clientSoftwareVersion
    }

    public func write(to buffer: inout ByteBuffer, version: Int16) {
        guard version >= 3 else { return }  // v0-v2 have an empty body
        buffer.writeCompactString(clientSoftwareName)
        buffer.writeCompactString(clientSoftwareVersion)
        buffer.writeNoTaggedFields()
    }
}

public struct ApiVersionsResponse: Sendable, Equatable {
    public struct Range: Sendable, Equatable {
        public var apiKey: Int16
        public var minVersion: Int16
        public var maxVersion: Int16

        public init(apiKey: Int16, minVersion: Int16, maxVersion: Int16) {
            self.apiKey = apiKey
            self.minVersion = minVersion
            self.maxVersion = maxVersion
        }
    }

    public var errorCode: Int16
    public var apiKeys: [Range]
    public var throttleTimeMs: Int32

    public init(errorCode: Int16 = 0, apiKeys: [Range], throttleTimeMs: Int32 = 0) {
        self.errorCode = errorCode
        self.apiKeys = apiKeys
        self.throttleTimeMs = throttleTimeMs
    }

    /// The highest version of `key` both sides support, or nil if none.
    public func version(of key: ApiKey, supported: ClosedRange<Int16>) -> Int16? {
        guard let range = apiKeys.first(where: { $0.apiKey == key.rawValue }) else { return nil }
        let high = min(range.maxVersion, supported.upperBound)
        return high >= max(range.minVersion, supported.lowerBound) ? high : nil
    }

    public static func read(from buffer: inout ByteBuffer, version: Int16) throws(KafkaWireError) -> ApiVersionsResponse
    {
        let flexible = version >= 3
        let error: Int16 = try buffer.readKafkaInteger("ApiVersions error code")
        let count = try buffer.readArrayCount("ApiVersions api keys", compact: flexible) ?? 0
        var keys: [Range] = []
        keys.reserveCapacity(count)
        for _ in 0..<count {
            let key: Int16 = try buffer.readKafkaInteger("api key")
            let low: Int16 = try buffer.readKafkaInteger("min version")
            let high: Int16 = try buffer.readKafkaInteger("max version")
            if flexible { try buffer.readTaggedFields("api key range") }
            keys.append(Range(apiKey: key, minVersion: low, maxVersion: high))
        }
        let throttle: Int32 = version >= 1 ? try buffer.readKafkaInteger("throttle time") : 0
        if flexible { try buffer.readTaggedFields("ApiVersions response") }  // features: not needed, skipped
        return ApiVersionsResponse(errorCode: error, apiKeys: keys, throttleTimeMs: throttle)
    }

    public func write(to buffer: inout ByteBuffer, version: Int16) {
        let flexible = version >= 3
        buffer.writeInteger(errorCode, endianness: .big)
        buffer.writeArrayCount(apiKeys.count, compact: flexible)
        for k in apiKeys {
            buffer.writeInteger(k.apiKey, endianness: .big)
            buffer.writeInteger(k.minVersion, endianness: .big)
            buffer.writeInteger(k.maxVersion, endianness: .big)
            if flexible { buffer.writeNoTaggedFields() }
        }
        if version >= 1 { buffer.writeInteger(throttleTimeMs, endianness: .big) }
        if flexible { buffer.writeNoTaggedFields() }
    }
}
