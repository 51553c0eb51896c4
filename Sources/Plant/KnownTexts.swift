/// Texts a reading decoder expects: a process's machine ids, variable names and products. A plain text (ASCII, no
/// escapes) that spells one of them is given as that String instead of a new one: the machine's id (16 bytes and
/// more) was a heap string per reading, and every name a String made from its bytes. Equal texts then share their
/// storage, which makes comparing them cheap.
public struct KnownTexts: Sendable {
    /// Each text's UTF-8 bytes, one after another, and where each starts (`starts[k]..<starts[k + 1]`).
    private let bytes: [UInt8]
    private let starts: [Int]
    private let texts: [String]
    /// Open addressing by `slot(of:)`: an index into `texts`, or -1 for an empty slot.
    private let slots: [Int32]

    public init(_ texts: some Sequence<String>) {
        var unique: [String] = []
        var seen = Set<String>()
        for t in texts where !t.isEmpty && t.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x80 }) && seen.insert(t).inserted {
            unique.append(t)
        }
        self.texts = unique
        var bytes: [UInt8] = []
        var starts = [0]
        for t in unique {
            bytes += t.utf8
            starts.append(bytes.count)
        }
        self.bytes = bytes
        self.starts = starts
        var size = 16
        while size < unique.count * 4 { size *= 2 }
        var slots = [Int32](repeating: -1, count: size)
        for (k, t) in unique.enumerated() {
            let utf8 = Array(t.utf8)
            var s = utf8.withUnsafeBytes { Self.slot(of: $0, size: size) }
            while slots[s] >= 0 { s = (s + 1) & (size - 1) }
            slots[s] = Int32(k)
        }
        self.slots = slots
    }

    /// The known text the bytes spell, if any.
    @inline(__always) func find(_ raw: UnsafeRawBufferPointer) -> String? {
        guard !raw.isEmpty else { return nil }
        var s = Self.slot(of: raw, size: slots.count)
        while true {
            let k = Int(slots[s])
            if k < 0 { return nil }
            let start = starts[k]
            if starts[k + 1] - start == raw.count {
                let same = bytes.withUnsafeBufferPointer { known in
                    for j in 0..<raw.count where known[start + j] != raw[j] { return false }
                    return true
                }
                if same { return texts[k] }
            }
            s = (s + 1) & (slots.count - 1)
        }
    }

    /// Whether `text` is one of the texts.
    @inline(__always) func contains(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { find(UnsafeRawBufferPointer($0)) != nil }
    }

    /// A slot from the length and the last two bytes (where machine ids such as "plant1/line1/m07" differ).
    @inline(__always) private static func slot(of raw: UnsafeRawBufferPointer, size: Int) -> Int {
        let n = raw.count
        let last = Int(raw[n - 1])
        let before = n > 1 ? Int(raw[n - 2]) : 0
        return (n &* 97 &+ last &* 31 &+ before &* 7) & (size - 1)
    }
}
