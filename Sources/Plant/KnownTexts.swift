/// Texts a reading decoder expects: a process's machine ids, variable names and products. A plain text (ASCII, no
/// escapes) that spells one of them is given as that String instead of a new one: the machine's id (16 bytes and
/// more) was a heap string per reading, and every name a String made from its bytes. Equal texts then share their
/// storage, which makes comparing them cheap.
///
/// Each text also has a place (`index(of:)`, 0 up to `count`, in the order given), which lets a caller keep what it
/// knows of each text in an array instead of a dictionary keyed by the text: the pipeline keeps its machines so.
public struct KnownTexts: Sendable {
    /// One object (a copy of the value is one retain: the decoder takes one per reading, and four arrays were four).
    private let storage: Storage

    private final class Storage: Sendable {
        /// Each text's UTF-8 bytes, one after another, and where each starts (`starts[k]..<starts[k + 1]`).
        let bytes: [UInt8]
        let starts: [Int]
        let texts: [String]
        /// Open addressing by `slot(of:)`: an index into `texts`, or -1 for an empty slot.
        let slots: [Int32]

        init(bytes: [UInt8], starts: [Int], texts: [String], slots: [Int32]) {
            self.bytes = bytes
            self.starts = starts
            self.texts = texts
            self.slots = slots
        }
    }

    /// The texts that are not empty and plain ASCII, each once, in the order given. Others are not known: a caller
    /// keeps them its usual way.
    public init(_ texts: some Sequence<String>) {
        var unique: [String] = []
        var seen = Set<String>()
        for t in texts where !t.isEmpty && t.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x80 }) && seen.insert(t).inserted {
            unique.append(t)
        }
        var bytes: [UInt8] = []
        var starts = [0]
        for t in unique {
            bytes += t.utf8
            starts.append(bytes.count)
        }
        var size = 16
        while size < unique.count * 4 { size *= 2 }
        var slots = [Int32](repeating: -1, count: size)
        for (k, t) in unique.enumerated() {
            let utf8 = Array(t.utf8)
            var s = utf8.withUnsafeBytes { Self.slot(of: $0, size: size) }
            while slots[s] >= 0 { s = (s + 1) & (size - 1) }
            slots[s] = Int32(k)
        }
        storage = Storage(bytes: bytes, starts: starts, texts: unique, slots: slots)
    }

    /// How many texts are known (their places are 0 up to this).
    public var count: Int { storage.texts.count }

    /// The known text at a place.
    public subscript(index: Int) -> String { storage.texts[index] }

    /// The known text the bytes spell, if any.
    @inline(__always) func find(_ raw: UnsafeRawBufferPointer) -> String? {
        index(raw).map { storage.texts[$0] }
    }

    /// The place of the known text the bytes spell, if any.
    @inline(__always) func index(_ raw: UnsafeRawBufferPointer) -> Int? {
        guard !raw.isEmpty else { return nil }
        let s = storage
        var slot = Self.slot(of: raw, size: s.slots.count)
        while true {
            let k = Int(s.slots[slot])
            if k < 0 { return nil }
            let start = s.starts[k]
            if s.starts[k + 1] - start == raw.count {
                let same = s.bytes.withUnsafeBufferPointer { known in
                    for j in 0..<raw.count where known[start + j] != raw[j] { return false }
                    return true
                }
                if same { return k }
            }
            slot = (slot + 1) & (s.slots.count - 1)
        }
    }

    /// The place of `text` among the known texts, if it is one.
    @inline(__always) public func index(of text: String) -> Int? {
        var text = text
        return text.withUTF8 { index(UnsafeRawBufferPointer($0)) }
    }

    /// Whether `text` is one of the texts.
    @inline(__always) func contains(_ text: String) -> Bool { index(of: text) != nil }

    /// A slot from the length and the last two bytes (where machine ids such as "plant1/line1/m07" differ).
    @inline(__always) private static func slot(of raw: UnsafeRawBufferPointer, size: Int) -> Int {
        let n = raw.count
        let last = Int(raw[n - 1])
        let before = n > 1 ? Int(raw[n - 2]) : 0
        return (n &* 97 &+ last &* 31 &+ before &* 7) & (size - 1)
    }
}
