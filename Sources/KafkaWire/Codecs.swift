import CKafkaCodecs
public import NIOCore

/// The record-batch codecs: gzip both ways (what Millstream writes when asked to compress), and decoding of snappy
/// (raw or in Java's xerial framing), LZ4 frames and Zstandard, which other producers write.
public enum BatchCodec {
    /// The records section of a batch, decompressed.
    public static func decompress(_ codec: RecordBatch.Compression, _ input: ByteBuffer) throws(KafkaWireError)
        -> ByteBuffer
    {
        let bytes = Array(input.readableBytesView)
        let out: [UInt8]
        switch codec {
        case .none: return input
        case .gzip: out = try gunzip(bytes)
        case .snappy: out = try unsnappy(bytes)
        case .lz4: out = try unlz4(bytes)
        case .zstd: out = try unzstd(bytes)
        }
        return ByteBuffer(bytes: out)
    }

    public static func gzip(_ input: [UInt8], level: Int32 = 1) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 16: a gzip header and trailer, as Kafka's gzip codec expects.
        deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)
        )
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        var input = input
        let produced = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = i.baseAddress
                stream.avail_in = UInt32(i.count)
                stream.next_out = o.baseAddress
                stream.avail_out = UInt32(o.count)
                deflate(&stream, Z_FINISH)
                return o.count - Int(stream.avail_out)
            }
        }
        out.removeSubrange(produced...)
        return out
    }

    static func gunzip(_ input: [UInt8]) throws(KafkaWireError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw KafkaWireError("gzip: cannot start the decoder")
        }
        defer { inflateEnd(&stream) }
        var input = input
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(65536, input.count * 4))
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { i in
            stream.next_in = i.baseAddress
            stream.avail_in = UInt32(i.count)
            repeat {
                let n = chunk.withUnsafeMutableBufferPointer { o in
                    stream.next_out = o.baseAddress
                    stream.avail_out = UInt32(o.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return o.count - Int(stream.avail_out)
                }
                out.append(contentsOf: chunk[0..<n])
                // Several gzip members in a row: start the next one.
                if status == Z_STREAM_END && stream.avail_in > 0 {
                    status = inflateReset(&stream)
                }
            } while status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        guard status == Z_STREAM_END || (status == Z_OK && stream.avail_in == 0) else {
            throw KafkaWireError("gzip: corrupt compressed records (zlib status \(status))")
        }
        return out
    }

    static func unsnappy(_ input: [UInt8]) throws(KafkaWireError) -> [UInt8] {
        let xerial: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]
        guard input.count >= 16, Array(input[0..<8]) == xerial else { return try rawSnappy(input[...]) }
        // Java's framing: magic, version, compatible version, then blocks of [int32 length][snappy block].
        var out: [UInt8] = []
        var at = 16
        while at < input.count {
            guard at + 4 <= input.count else { throw KafkaWireError("snappy: truncated block length") }
            let length = input[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
            at += 4
            guard length >= 0, at + length <= input.count else { throw KafkaWireError("snappy: truncated block") }
            out += try rawSnappy(input[at..<at + length])
            at += length
        }
        return out
    }

    static func rawSnappy(_ input: ArraySlice<UInt8>) throws(KafkaWireError) -> [UInt8] {
        var length = 0
        let ok = input.withUnsafeBufferPointer { i in
            i.withMemoryRebound(to: CChar.self) { snappy_uncompressed_length($0.baseAddress, $0.count, &length) }
        }
        guard ok == SNAPPY_OK, length <= 1 << 30 else { throw KafkaWireError("snappy: corrupt block header") }
        var out = [UInt8](repeating: 0, count: length)
        var produced = length
        let status = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                i.withMemoryRebound(to: CChar.self) { ic in
                    o.withMemoryRebound(to: CChar.self) { oc in
                        snappy_uncompress(ic.baseAddress, ic.count, oc.baseAddress, &produced)
                    }
                }
            }
        }
        guard status == SNAPPY_OK else { throw KafkaWireError("snappy: corrupt compressed records") }
        return Array(out[0..<produced])
    }

    static func unlz4(_ input: [UInt8]) throws(KafkaWireError) -> [UInt8] {
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0 else {
            throw KafkaWireError("lz4: cannot start the decoder")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var consumed = 0
        var hint = 1
        while consumed < input.count && hint != 0 {
            var inSize = input.count - consumed
            var outSize = chunk.count
            hint = input.withUnsafeBufferPointer { i in
                chunk.withUnsafeMutableBufferPointer { o in
                    LZ4F_decompress(context, o.baseAddress, &outSize, i.baseAddress! + consumed, &inSize, nil)
                }
            }
            if LZ4F_isError(hint) != 0 {
                throw KafkaWireError("lz4: \(String(cString: LZ4F_getErrorName(hint)))")
            }
            consumed += inSize
            out.append(contentsOf: chunk[0..<outSize])
            if inSize == 0 && outSize == 0 { break }
        }
        return out
    }

    static func unzstd(_ input: [UInt8]) throws(KafkaWireError) -> [UInt8] {
        guard let stream = ZSTD_createDStream() else { throw KafkaWireError("zstd: cannot start the decoder") }
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: Int(ZSTD_DStreamOutSize()))
        var failure: String?
        input.withUnsafeBufferPointer { i in
            var inBuffer = ZSTD_inBuffer(src: i.baseAddress, size: i.count, pos: 0)
            while inBuffer.pos < inBuffer.size {
                let produced = chunk.withUnsafeMutableBufferPointer { o in
                    var outBuffer = ZSTD_outBuffer(dst: o.baseAddress, size: o.count, pos: 0)
                    let r = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                    if ZSTD_isError(r) != 0 { failure = String(cString: ZSTD_getErrorName(r)) }
                    return outBuffer.pos
                }
                if failure != nil { return }
                out.append(contentsOf: chunk[0..<produced])
                if produced == 0 && inBuffer.pos < inBuffer.size && failure == nil { continue }
            }
            // Drain what the decoder still holds.
            while failure == nil {
                let produced = chunk.withUnsafeMutableBufferPointer { o in
                    var outBuffer = ZSTD_outBuffer(dst: o.baseAddress, size: o.count, pos: 0)
                    let r = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                    if ZSTD_isError(r) != 0 { failure = String(cString: ZSTD_getErrorName(r)) }
                    return outBuffer.pos
                }
                if produced == 0 { break }
                out.append(contentsOf: chunk[0..<produced])
            }
        }
        if let failure { throw KafkaWireError("zstd: \(failure)") }
        return out
    }
}
