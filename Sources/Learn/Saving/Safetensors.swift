import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
/// and byte range, then the raw little-endian data. Only F32 is written and read.
public enum Safetensors {
    public static func encode(
        _ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String] = [:]
    ) throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * 4
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }  // pad so the data starts 8-byte aligned
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        // x86-64 and arm64 are little-endian.
        for t in tensors { t.values.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Reads every tensor; any inconsistency is an error that says what is wrong (`source` names the file).
    public static func decode(_ bytes: [UInt8], source: String) throws -> [String: (shape: [Int], values: [Float])] {
        func corrupt(_ why: String) -> LearnError { LearnError("weights file \(source) is corrupt: \(why)") }
        guard bytes.count >= 8 else { throw corrupt("\(bytes.count) bytes, too short for a header") }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(bytes.count - 8), headerLength < 100_000_000 else {
            throw corrupt("header length \(headerLength) exceeds the file (\(bytes.count) bytes)")
        }
        let dataStart = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])) as? [String: Any] else {
            throw corrupt("the header is not a JSON object")
        }
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, entry) in header where name != "__metadata__" {
            guard let info = entry as? [String: Any], let dtype = info["dtype"] as? String,
                let shape = info["shape"] as? [Int], let range = info["data_offsets"] as? [Int], range.count == 2
            else { throw corrupt("tensor '\(name)' lacks dtype, shape or data_offsets") }
            guard dtype == "F32" else { throw corrupt("tensor '\(name)' is \(dtype); only F32 is supported") }
            let count = shape.reduce(1, *)
            guard shape.allSatisfy({ $0 >= 0 }), range[0] >= 0, range[1] - range[0] == count * 4,
                dataStart + range[1] <= bytes.count
            else {
                throw corrupt(
                    "tensor '\(name)' (shape \(shape)) does not fit bytes \(range[0])..<\(range[1]) of the data")
            }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in
                    dst.copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: src[(dataStart + range[0])..<(dataStart + range[1])]))
                }
            }
            tensors[name] = (shape, values)
        }
        return tensors
    }
}
