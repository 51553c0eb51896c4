import AtRest
import Primitives
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What an append did: the offsets given to the records and whether they are already on stable storage.
public struct AppendResult: Sendable, Equatable {
    public var baseOffset: Int64
    public var nextOffset: Int64
    public var durable: Bool
}

/// What a read returned: records in offset order and the offset to read from next.
public struct ReadResult: Sendable {
    public var records: [ConsumedRecord]
    public var nextOffset: Int64
}

/// One partition of a topic: an ordered, append-only sequence of records in segment files.
///
/// Appends are serialized by a lock; reads copy what they need under the lock and read the file outside it, so
/// readers and the writer do not wait on each other's I/O.
public final class PartitionLog: Sendable {
    public let topic: String
    public let partition: Int
    let directory: String
    let configuration: TopicConfiguration
    let fsync: FsyncPolicy
    let writable: Bool
    let notifier: AppendNotifier
    /// Encrypts what is appended (and decrypts encrypted batches) when set.
    let keyring: Keyring?
    let sealedMarker: SealedMarker?
    private let state: Mutex<State>

    private struct State {
        var segments: [Segment]
        var scratch: [UInt8] = []
        var lastSync = ContinuousClock.now
        var durableOffset: Int64
        var closed = false
    }

    /// Recovery notes: one line for each torn or corrupt tail that was cut off on open.
    public let recoveryNotes: [String]

    init(
        topic: String, partition: Int, directory: String, configuration: TopicConfiguration, fsync: FsyncPolicy,
        writable: Bool, notifier: AppendNotifier, keyring: Keyring? = nil, sealedMarker: SealedMarker? = nil
    ) throws {
        self.keyring = keyring
        self.sealedMarker = sealedMarker
        self.topic = topic
        self.partition = partition
        self.directory = directory
        self.configuration = configuration
        self.fsync = fsync
        self.writable = writable
        self.notifier = notifier
        if writable { try FileSystem.makeDirectory(directory) }
        var notes: [String] = []
        var segments: [Segment] = []
        for base in try Self.segmentBases(in: directory) {
            segments.append(try Self.openSegment(base: base, in: directory, writable: writable, configuration, &notes))
        }
        if segments.isEmpty {
            guard writable else {
                throw EventLogError(.io, "partition directory \(directory) has no segment files")
            }
            segments.append(try Self.createSegment(base: 0, in: directory))
        }
        self.recoveryNotes = notes
        let next = segments.last!.nextOffset
        state = Mutex(State(segments: segments, durableOffset: next))
        if writable { try enforceRetention() }
    }

    private var label: String { "\(topic)/\(partition)" }

    // MARK: - Offsets

    /// The first offset that can still be read (older segments may have been deleted by retention).
    public var earliestOffset: Int64 { state.withLock { $0.segments.first!.baseOffset } }

    /// The offset the next appended record will get.
    public var latestOffset: Int64 { state.withLock { $0.segments.last!.nextOffset } }

    /// Every record below this offset has been fsynced.
    public var durableOffset: Int64 { state.withLock { $0.durableOffset } }

    /// Bytes of log on disk for this partition.
    public var sizeInBytes: Int64 { state.withLock { $0.segments.reduce(0) { $0 + $1.size } } }

    public var segmentCount: Int { state.withLock { $0.segments.count } }

    // MARK: - Append

    /// Appends records as one or more batches, returning their offsets.
    ///
    /// - Important: on a write error (disk full, I/O) nothing of this call stays in the log: the file is cut back to
    ///   where it was, and earlier records are untouched.
    @discardableResult
    public func append<C: Collection<Record>>(_ records: C) throws -> AppendResult { try appendRecords(records) }

    /// Appends an array of records (the bus's producers): the same as the generic `append`, compiled for arrays in
    /// this module. Called from another module, the generic one runs every element through the collection's
    /// witnesses (a lazy map there was 4 % of the pipeline worker in a profile, its elements made twice).
    @discardableResult
    public func append(_ records: [Record]) throws -> AppendResult { try appendRecords(records) }

    /// Appends a run of an array's records (the embedded bus's producer, for each partition's run of a send),
    /// compiled for slices in this module as `append(_: [Record])` is for arrays.
    @discardableResult
    public func append(_ records: ArraySlice<Record>) throws -> AppendResult { try appendRecords(records) }

    private func appendRecords<C: Collection<Record>>(_ records: C) throws -> AppendResult {
        guard !records.isEmpty else {
            let next = latestOffset
            return AppendResult(baseOffset: next, nextOffset: next, durable: true)
        }
        let result = try state.withLock { state -> AppendResult in
            guard !state.closed else { throw EventLogError(.closed, "partition \(label) is closed") }
            guard writable else { throw EventLogError(.readOnly, "partition \(label) was opened read-only") }
            if keyring != nil { try sealedMarker?.mark() }
            var segment = state.segments.removeLast()
            defer { state.segments.append(segment) }
            let startSize = segment.size
            let base = segment.nextOffset
            state.scratch.removeAll(keepingCapacity: true)
            let batches = try encode(records, from: base, into: &state.scratch)
            do {
                try state.scratch.withUnsafeBytes { try segment.log.write($0, at: startSize) }
            } catch {
                try? segment.log.truncate(to: startSize)  // keep the file equal to what the log acknowledges
                throw error
            }
            segment.size = startSize + Int64(state.scratch.count)
            try index(batches, at: startSize, in: &segment)
            let durable = try syncAsPolicyAsks(&state, segment)
            if segment.size >= Int64(configuration.segmentBytes) {
                try segment.persistIndex()
                if fsync != .never { try segment.log.sync() }
                state.segments.append(segment)
                segment = try Self.createSegment(base: segment.nextOffset, in: directory)
                try Self.applyRetention(&state.segments, configuration, label: label)
            }
            return AppendResult(baseOffset: base, nextOffset: batches.last?.next ?? base, durable: durable)
        }
        notifier.notify()
        return result
    }

    /// Where each encoded batch starts in the buffer, the offset after it and its newest timestamp.
    typealias EncodedBatch = (position: Int, next: Int64, maxTimestamp: Int64)

    /// Encodes the records as batches of about 1 MiB (so readers can start mid-way and a batch never nears the
    /// limit), offsets from `base`; a record too large for the log is refused before anything is written.
    private func encode<C: Collection<Record>>(_ records: C, from base: Int64, into scratch: inout [UInt8]) throws
        -> [EncodedBatch]
    {
        var batches: [EncodedBatch] = []
        var offset = base
        var group = records.startIndex
        var groupBytes = 0
        var index = records.startIndex
        func flushGroup(upTo end: C.Index) {
            guard group != end else { return }
            let start = scratch.count
            let slice = records[group..<end]
            let maxTs = RecordBatch.encode(slice, baseOffset: offset, keyring: keyring, into: &scratch)
            offset += Int64(slice.count)
            batches.append((start, offset, maxTs))
            group = end
            groupBytes = 0
        }
        while index != records.endIndex {
            let record = records[index]
            let size = record.value.count + (record.key?.count ?? 0) + 16
            if size > RecordBatch.maxBatchBytes - 4096 {
                throw EventLogError(
                    .invalidArgument,
                    "record of \(size) bytes for \(label) exceeds the largest record the log takes "
                        + "(\(RecordBatch.maxBatchBytes - 4096) bytes)")
            }
            if groupBytes + size > (1 << 20) { flushGroup(upTo: index) }
            groupBytes += size
            index = records.index(after: index)
        }
        flushGroup(upTo: records.endIndex)
        return batches
    }

    /// Advances the segment past the written batches: the sparse index gets an entry every `indexIntervalBytes`,
    /// and is persisted every 256 entries.
    private func index(_ batches: [EncodedBatch], at startSize: Int64, in segment: inout Segment) throws {
        var lastIndexed = segment.index.last?.position ?? -Int64(configuration.indexIntervalBytes)
        var previousMax = segment.maxTimestamp
        for batch in batches {
            let position = startSize + Int64(batch.position)
            if position - lastIndexed >= Int64(configuration.indexIntervalBytes) {
                // segment.nextOffset is this batch's base offset here
                segment.index.append(
                    IndexEntry(offset: segment.nextOffset, position: position, maxTimestamp: previousMax))
                lastIndexed = position
            }
            segment.nextOffset = batch.next
            previousMax = max(previousMax, batch.maxTimestamp)
        }
        segment.maxTimestamp = previousMax
        if segment.index.count - segment.persistedIndexEntries >= 256 { try segment.persistIndex() }
    }

    /// fsyncs as the policy asks: every batch, or inline only if the bus's flusher (which fsyncs outside this lock)
    /// has not run for a while. Returns whether the append is durable.
    private func syncAsPolicyAsks(_ state: inout State, _ segment: Segment) throws -> Bool {
        var durable = false
        switch fsync {
        case .everyBatch:
            try segment.log.sync()
            durable = true
        case .interval(let interval):
            if ContinuousClock.now - state.lastSync >= interval * 4 {
                try segment.log.sync()
                durable = true
            }
        case .never: break
        }
        if durable {
            state.lastSync = .now
            state.durableOffset = segment.nextOffset
        }
        return durable
    }

    /// fsyncs everything appended so far (and the index). Cheap when nothing is pending.
    ///
    /// The fsync runs outside the partition's lock, so appends and reads go on meanwhile; the durable offset moves to
    /// what was appended before the fsync began. (Closed segments were fsynced when they rolled.)
    public func sync() throws {
        let pending = try state.withLock { state -> (FileRef, Int64)? in
            guard writable, !state.closed else { return nil }
            let next = state.segments.last!.nextOffset
            guard
                state.durableOffset < next
                    || state.segments.last!.persistedIndexEntries < state.segments.last!.index.count
            else { return nil }
            try state.segments[state.segments.count - 1].persistIndex()
            return (state.segments.last!.log, next)
        }
        guard let (file, next) = pending else { return }
        try file.sync()
        state.withLock { state in
            state.durableOffset = max(state.durableOffset, next)
            state.lastSync = .now
        }
    }

    /// fsyncs if the interval policy's time has come; the bus calls this from its flusher.
    public func syncIfDue() throws {
        guard case .interval(let interval) = fsync else { return }
        let due = state.withLock {
            ContinuousClock.now - $0.lastSync >= interval && $0.durableOffset < $0.segments.last!.nextOffset
        }
        if due { try sync() }
    }

    // MARK: - Read

    /// Reads records with offsets from `offset`, about `maxBytes` of them (at least one batch when any is there) and
    /// at most `maxRecords`.
    ///
    /// Every batch's CRC is checked; a batch that fails it is reported as an error, never returned.
    public func read(from offset: Int64, maxBytes: Int = 1 << 20, maxRecords: Int = .max) throws -> ReadResult {
        var records: [ConsumedRecord] = []
        let next = try read(from: offset, maxBytes: maxBytes, maxRecords: maxRecords, appendingTo: &records)
        return ReadResult(records: records, nextOffset: next)
    }

    /// The same, appending the records to `records` (a consumer's poll gathers several partitions' into one list,
    /// without copying each record from a list of its own); returns the offset after the last one read.
    public func read(
        from offset: Int64, maxBytes: Int = 1 << 20, maxRecords: Int = .max, appendingTo records: inout [ConsumedRecord]
    ) throws -> Int64 {
        guard maxRecords > 0 else {
            throw EventLogError(
                .invalidArgument, "a read of \(label) must ask for at least 1 record, not \(maxRecords)")
        }
        var from = offset
        var scratch: [UInt8] = []
        while true {
            if !writable && from >= latestOffset { try refresh() }
            let found = try state.withLock { state -> Segment? in
                guard !state.closed else { throw EventLogError(.closed, "partition \(label) is closed") }
                let first = state.segments.first!.baseOffset
                if from < first {
                    throw EventLogError(
                        .offsetOutOfRange,
                        "offset \(from) of \(label) is before the earliest kept offset \(first) (deleted by retention)")
                }
                guard from < state.segments.last!.nextOffset else { return nil }
                var low = 0
                var high = state.segments.count - 1
                while low < high {
                    let mid = (low + high + 1) / 2
                    if state.segments[mid].baseOffset <= from { low = mid } else { high = mid - 1 }
                }
                return state.segments[low]
            }
            guard let segment = found else { return from }
            if from >= segment.nextOffset {
                from = segment.nextOffset  // a gap left by a cut tail: continue in the next segment
                let nextBase = state.withLock { s in s.segments.first { $0.baseOffset > from }?.baseOffset }
                guard let nextBase else { return from }
                from = nextBase
                continue
            }
            let before = records.count
            let limit = before + maxRecords
            var bytes = 0
            let start = segment.startPosition(for: from)
            let end = try scanBatches(
                segment.log, from: start, to: segment.size, verify: true, chunkBytes: min(maxBytes, 1 << 20) + 4096,
                buffer: &scratch
            ) { _, header, batch in
                guard header.nextOffset > from else { return true }
                // Records past `maxRecords` are neither decoded nor copied (a consumer's poll that read a whole
                // chunk's batches decoded 1.7 readings for each one it returned).
                try RecordBatch.records(
                    batch, header: header, from: from, limit: limit, topic: topic, partition: partition,
                    keyring: keyring, where: "batch at offset \(header.baseOffset) of \(label) (\(segment.log.path))",
                    into: &records)
                bytes += header.length
                return bytes < maxBytes && records.count < limit
            }
            if case .invalid(let position, let reason) = end {
                throw EventLogError(
                    .corrupt,
                    "\(segment.log.path) (\(label)) at byte \(position): \(reason); records there cannot be read")
            }
            if records.count > before { return records[records.count - 1].offset + 1 }
            from = segment.nextOffset
        }
    }

    /// In a read-only view, picks up what the writing process appended since the last look; otherwise does nothing.
    public func refreshIfReadOnly() throws {
        if !writable { try refresh() }
    }

    /// For a read-only view of a log another process writes: picks up new segments and bytes appended since open.
    func refresh() throws {
        try state.withLock { state in
            var notes: [String] = []
            let bases = try Self.segmentBases(in: directory)
            state.segments.removeAll { !bases.contains($0.baseOffset) }  // deleted by the writer's retention
            guard var last = state.segments.popLast() else {
                for base in bases {
                    state.segments.append(
                        try Self.openSegment(base: base, in: directory, writable: false, configuration, &notes))
                }
                return
            }
            let size = try last.log.size()
            if size > last.size {
                var buffer: [UInt8] = []
                var lastIndexed = last.index.last?.position ?? -Int64(configuration.indexIntervalBytes)
                let end = try scanBatches(last.log, from: last.size, to: size, verify: true, buffer: &buffer) {
                    position, header, _ in
                    guard header.baseOffset == last.nextOffset else { return false }
                    if position - lastIndexed >= Int64(configuration.indexIntervalBytes) {
                        last.index.append(
                            IndexEntry(offset: header.baseOffset, position: position, maxTimestamp: last.maxTimestamp))
                        lastIndexed = position
                    }
                    last.nextOffset = header.nextOffset
                    last.maxTimestamp = max(last.maxTimestamp, header.maxTimestamp)
                    last.size = position + Int64(header.length)
                    return true
                }
                _ = end  // an incomplete tail is the writer's batch in flight: read it next time
            }
            state.segments.append(last)
            for base in bases where base > last.baseOffset {
                state.segments.append(
                    try Self.openSegment(base: base, in: directory, writable: false, configuration, &notes))
            }
        }
    }

    // MARK: - Lifecycle

    /// Deletes closed segments beyond the topic's retention.
    public func enforceRetention() throws {
        try state.withLock { state in
            guard writable, !state.closed else { return }
            try Self.applyRetention(&state.segments, configuration, label: label)
        }
    }

    /// Writes the index, fsyncs (unless the policy is never) and closes the partition.
    public func close() throws {
        try state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            if writable {
                try state.segments[state.segments.count - 1].persistIndex()
                if fsync != .never { try state.segments.last!.log.sync() }
                state.durableOffset = state.segments.last!.nextOffset
            }
        }
    }

    private static func applyRetention(_ segments: inout [Segment], _ configuration: TopicConfiguration, label: String)
        throws
    {
        let now = currentMilliseconds()
        var total = segments.reduce(0) { $0 + $1.size }
        while segments.count > 1 {
            let first = segments[0]
            // Age is when the segment was last written, not its records' timestamps: imported history must not
            // vanish at the next roll.
            let tooOld =
                try configuration.retentionMilliseconds.map { try first.log.modifiedMilliseconds() < now - $0 } ?? false
            let tooBig = configuration.retentionBytes.map { total - first.size >= $0 } ?? false
            guard tooOld || tooBig else { break }
            segments.removeFirst()
            total -= first.size
            try FileSystem.remove(first.log.path)
            if let index = first.indexFile { try FileSystem.remove(index.path) }
        }
    }

    // MARK: - Opening segments

    static func segmentBases(in directory: String) throws -> [Int64] {
        try FileSystem.list(directory).compactMap { name in
            guard name.hasSuffix(".log"), let base = Int64(name.dropLast(4)) else { return nil }
            return base
        }.sorted()
    }

    static func createSegment(base: Int64, in directory: String) throws -> Segment {
        let log = try FileRef.open(directory + "/" + Segment.fileName(base, "log"), writable: true, create: true)
        let index = try FileRef.open(directory + "/" + Segment.fileName(base, "index"), writable: true, create: true)
        try index.truncate(to: 0)
        try FileSystem.syncDirectory(directory)
        return Segment(
            baseOffset: base, nextOffset: base, size: 0, maxTimestamp: Int64.min, index: [], persistedIndexEntries: 0,
            log: log, indexFile: index)
    }

    /// The entries of a segment's index file.
    static func readIndex(_ indexFile: FileRef, base: Int64) throws -> [IndexEntry] {
        var entries: [IndexEntry] = []
        var raw: [UInt8] = []
        let n = try indexFile.read(at: 0, count: Int(try indexFile.size()), into: &raw)
        raw.withUnsafeBytes { bytes in
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
            while reader.remaining >= IndexEntry.size {
                let rel = reader.readLittleEndian(UInt32.self)!
                let position = reader.readLittleEndian(UInt32.self)!
                let ts = reader.readLittleEndian(Int64.self)!
                entries.append(IndexEntry(offset: base + Int64(rel), position: Int64(position), maxTimestamp: ts))
            }
        }
        return entries
    }

    /// The index entries up to the first that does not point, in order, at a batch with the offset it claims.
    static func trusted(_ entries: [IndexEntry], in log: FileRef, fileSize: Int64) throws -> [IndexEntry] {
        var header: [UInt8] = []
        var trusted = 0
        for entry in entries {
            guard entry.position < fileSize, entry.position >= (trusted > 0 ? entries[trusted - 1].position : 0)
            else { break }
            let n = try log.read(at: entry.position, count: RecordBatch.headerSize, into: &header)
            let ok = header.withUnsafeBytes { raw -> Bool in
                if case .success(let h) = RecordBatch.parseHeader(UnsafeRawBufferPointer(rebasing: raw[0..<n])) {
                    return h.baseOffset == entry.offset
                }
                return false
            }
            guard ok else { break }
            trusted += 1
        }
        return Array(entries.prefix(trusted))
    }

    /// Opens a segment and recovers it: trusts the index as far as it matches the log, then scans and checks every
    /// batch after it. A torn or corrupt tail is cut off (when writable) and noted.
    static func openSegment(
        base: Int64, in directory: String, writable: Bool, _ configuration: TopicConfiguration, _ notes: inout [String]
    ) throws -> Segment {
        let logPath = directory + "/" + Segment.fileName(base, "log")
        let indexPath = directory + "/" + Segment.fileName(base, "index")
        let log = try FileRef.open(logPath, writable: writable)
        let fileSize = try log.size()
        let indexFile: FileRef? =
            writable
            ? try FileRef.open(indexPath, writable: true, create: true)
            : (FileSystem.exists(indexPath) ? try FileRef.open(indexPath, writable: false) : nil)
        var entries = try indexFile.map { try readIndex($0, base: base) } ?? []
        entries = try trusted(entries, in: log, fileSize: fileSize)
        // The last trusted entry is re-scanned so its batch's CRC is checked too.
        let resume = entries.popLast()
        var segment = Segment(
            baseOffset: base, nextOffset: resume?.offset ?? base, size: resume?.position ?? 0,
            maxTimestamp: resume?.maxTimestamp ?? Int64.min, index: entries, persistedIndexEntries: entries.count,
            log: log, indexFile: indexFile)
        var lastIndexed = entries.last?.position ?? -Int64(configuration.indexIntervalBytes)
        var buffer: [UInt8] = []
        var gap: String?
        let end = try scanBatches(log, from: segment.size, to: fileSize, verify: true, buffer: &buffer) {
            position, h, _ in
            guard h.baseOffset == segment.nextOffset else {
                gap = "batch claims offset \(h.baseOffset), expected \(segment.nextOffset)"
                return false
            }
            if position - lastIndexed >= Int64(configuration.indexIntervalBytes) {
                segment.index.append(
                    IndexEntry(offset: h.baseOffset, position: position, maxTimestamp: segment.maxTimestamp))
                lastIndexed = position
            }
            segment.nextOffset = h.nextOffset
            segment.maxTimestamp = max(segment.maxTimestamp, h.maxTimestamp)
            segment.size = position + Int64(h.length)
            return true
        }
        var problem: String?
        switch end {
        case .end: break
        case .invalid(_, let reason): problem = reason
        case .stopped: problem = gap
        }
        if let problem, writable {
            notes.append("\(logPath): cut \(fileSize - segment.size) bytes after byte \(segment.size) (\(problem))")
            try log.truncate(to: segment.size)
            try log.sync()
        }
        if writable, let indexFile {
            // Rewrite the index to exactly the entries that match the recovered log.
            try indexFile.truncate(to: 0)
            segment.persistedIndexEntries = 0
            try segment.persistIndex()
        }
        return segment
    }
}

func currentMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
