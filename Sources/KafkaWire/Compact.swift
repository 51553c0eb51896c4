public import NIOCore

/// Helpers for the flexible (compact) encoding every message from here on uses.
extension ByteBuffer {
    /// A COMPACT_ARRAY (nil when null), each element read by `element`.
    public mutating func readCompactArray<T>(
        _ what: @autoclosure () -> String, _ element: (inout ByteBuffer) throws(KafkaWireError) -> T
    ) throws(KafkaWireError) -> [T]? {
        guard let count = try readArrayCount(what(), compact: true) else { return nil }
        var out: [T] = []
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try element(&self)) }
        return out
    }

    public mutating func writeCompactArray<T>(_ items: [T]?, _ element: (inout ByteBuffer, T) -> Void) {
        writeArrayCount(items?.count, compact: true)
        for item in items ?? [] { element(&self, item) }
    }

    public mutating func readKafkaBool(_ what: @autoclosure () -> String) throws(KafkaWireError) -> Bool {
        let b: UInt8 = try readKafkaInteger(what())
        return b != 0
    }

    public mutating func writeKafkaBool(_ b: Bool) { writeInteger(UInt8(b ? 1 : 0)) }

    public mutating func readUUID(_ what: @autoclosure () -> String) throws(KafkaWireError) -> [UInt8] {
        guard let b = readBytes(length: 16) else { throw .short(what()) }
        return b
    }

    public mutating func writeBigEndian<T: FixedWidthInteger>(_ v: T) { writeInteger(v, endianness: .big) }

    /// COMPACT_RECORDS / COMPACT_NULLABLE_BYTES as a slice of this buffer (no copy).
    public mutating func readCompactSlice(_ what: @autoclosure () -> String) throws(KafkaWireError) -> ByteBuffer? {
        let n = try readUnsignedVarint(what())
        if n == 0 { return nil }
        guard let s = readSlice(length: Int(n - 1)) else { throw .short(what()) }
        return s
    }

    public mutating func writeCompactSlice(_ b: ByteBuffer?) {
        guard var b else {
            writeUnsignedVarint(0)
            return
        }
        writeUnsignedVarint(UInt32(b.readableBytes + 1))
        writeBuffer(&b)
    }

    public mutating func readInt32Array(_ what: @autoclosure () -> String) throws(KafkaWireError) -> [Int32] {
        let name = what()
        return try readCompactArray(name) { (b: inout ByteBuffer) throws(KafkaWireError) -> Int32 in
            try b.readKafkaInteger(name)
        } ?? []
    }

    /// Reads a compact string that must be present.
    public mutating func readName(_ what: @autoclosure () -> String) throws(KafkaWireError) -> String {
        try readCompactString(what())!
    }
}

/// The nesting most data-path messages share: an array of topics, each a name and an array of partitions.
extension ByteBuffer {
    public mutating func readTopics<P>(
        _ what: @autoclosure () -> String, _ partition: (inout ByteBuffer) throws(KafkaWireError) -> P
    ) throws(KafkaWireError) -> [(name: String, partitions: [P])] {
        let context = what()
        return try readCompactArray(context) {
            (b: inout ByteBuffer) throws(KafkaWireError) -> (name: String, partitions: [P]) in
            let name = try b.readName("topic name in \(context)")
            let partitions = try b.readCompactArray("partitions of \(name) in \(context)", partition) ?? []
            try b.readTaggedFields("topic \(name) in \(context)")
            return (name, partitions)
        } ?? []
    }

    public mutating func writeTopics<P>(
        _ topics: [(name: String, partitions: [P])], _ partition: (inout ByteBuffer, P) -> Void
    ) {
        writeCompactArray(topics) { b, t in
            b.writeCompactString(t.name)
            b.writeCompactArray(t.partitions, partition)
            b.writeNoTaggedFields()
        }
    }
}
