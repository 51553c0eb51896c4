/// One sparse index entry: the batch holding `offset` starts at `position`; `maxTimestamp` covers all before it.
struct IndexEntry: Equatable {
    var offset: Int64
    var position: Int64
    var maxTimestamp: Int64

    static let size = 16  // u32 relative offset, u32 position, i64 max timestamp
}

/// A segment: one log file of consecutive batches starting at `baseOffset`, and its sparse index.
struct Segment {
    let baseOffset: Int64
    var nextOffset: Int64
    /// Bytes of complete, verified batches; anything after is not part of the log.
    var size: Int64
    var maxTimestamp: Int64
    var index: [IndexEntry]
    var persistedIndexEntries: Int
    let log: FileRef
    let indexFile: FileRef?

    var isEmpty: Bool { nextOffset == baseOffset }

    static func fileName(_ base: Int64, _ suffix: String) -> String {
        let digits = String(base)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + suffix
    }

    /// The position to start scanning from to find `offset`.
    func startPosition(for offset: Int64) -> Int64 {
        var low = 0
        var high = index.count - 1
        var found: Int64 = 0
        while low <= high {
            let mid = (low + high) / 2
            if index[mid].offset <= offset {
                found = index[mid].position
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found
    }

    /// Writes index entries not yet on disk (the index is a hint: recovery re-checks it against the log).
    mutating func persistIndex() throws {
        guard let file = indexFile, persistedIndexEntries < index.count else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((index.count - persistedIndexEntries) * IndexEntry.size)
        for entry in index[persistedIndexEntries...] {
            bytes.appendLittleEndian(UInt32(entry.offset - baseOffset))
            bytes.appendLittleEndian(UInt32(entry.position))
            bytes.appendLittleEndian(entry.maxTimestamp)
        }
        try bytes.withUnsafeBytes { try file.write($0, at: Int64(persistedIndexEntries * IndexEntry.size)) }
        persistedIndexEntries = index.count
    }
}

/// How a scan over a segment file ended.
enum ScanEnd: Equatable {
    /// Every byte up to `position` (the end asked for) is complete, valid batches.
    case end(Int64)
    /// The batch at `position` is torn or fails its check; `reason` says how.
    case invalid(Int64, String)
    /// The visitor asked to stop before the batch at `position`.
    case stopped(Int64)
}

/// Walks the batches of a file from `start` to `end` in large reads, checking each CRC when `verify` is set.
///
/// The visitor gets the batch's position, header and bytes (valid only during the call), and returns false to stop.
func scanBatches(
    _ file: FileRef, from start: Int64, to end: Int64, verify: Bool, chunkBytes: Int = 1 << 20,
    buffer: inout [UInt8],
    _ visit: (Int64, RecordBatch.Header, UnsafeRawBufferPointer) throws -> Bool
) throws -> ScanEnd {
    var position = start
    var want = chunkBytes
    while position < end {
        let count = Int(min(Int64(want), end - position))
        let got = try file.read(at: position, count: count, into: &buffer)
        want = chunkBytes
        var local = 0
        let outcome: ScanEnd? = try buffer.withUnsafeBytes { raw -> ScanEnd? in
            while true {
                let available = got - local
                let here = position + Int64(local)
                if available == 0 { return here >= end || got < count ? .end(here) : nil }
                if available < RecordBatch.headerSize {
                    if here + Int64(available) >= end || got < count {
                        return .invalid(here, "torn batch header: \(available) of \(RecordBatch.headerSize) bytes")
                    }
                    return nil  // header crosses the chunk: read again from here
                }
                let slice = UnsafeRawBufferPointer(rebasing: raw[local..<got])
                switch RecordBatch.parseHeader(slice) {
                case .failure(.short): return nil
                case .failure(.badMagic): return .invalid(here, "no batch marker")
                case .failure(.badLength(let n)): return .invalid(here, "impossible batch length \(n)")
                case .success(let header):
                    if header.length > available {
                        if here + Int64(header.length) > end {
                            return .invalid(here, "torn batch: \(available) of \(header.length) bytes present")
                        }
                        want = max(chunkBytes, header.length)
                        return nil
                    }
                    let bytes = UnsafeRawBufferPointer(rebasing: slice[0..<header.length])
                    if verify && !RecordBatch.crcMatches(bytes, header: header) {
                        return .invalid(
                            here, "CRC32C mismatch in batch of offsets \(header.baseOffset)..<\(header.nextOffset)")
                    }
                    if try !visit(here, header, bytes) { return .stopped(here) }
                    local += header.length
                }
            }
        }
        if let outcome { return outcome }
        position += Int64(local)
    }
    return .end(position)
}
