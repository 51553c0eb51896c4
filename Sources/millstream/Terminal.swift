import ArgumentParser
import Foundation

/// Writing to the terminal: buffered stdout for bulk output, a self-updating status line on stderr.
enum Terminal {
    static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }
    static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) == 1 }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Rewrites the current stderr line (on a terminal only).
    static func status(_ text: String) {
        guard stderrIsTTY else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text).utf8))
    }

    static func endStatus() {
        guard stderrIsTTY else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }

    /// A JSON object as one line.
    static func jsonLine(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Buffered writes to stdout in large chunks (fast for `tail` of many records).
struct StdoutWriter {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    mutating func write(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(STDOUT_FILENO, raw.baseAddress! + done, raw.count - done)
                if n <= 0 {
                    if errno == EINTR { continue }
                    return  // a closed pipe (`| head`): stop quietly
                }
                done += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Formats 1234567 as "1,234,567".
func grouped(_ n: some BinaryInteger) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}

/// Parses durations like 90s, 10m, 2h, 1d, 500ms.
func parseDuration(_ text: String, option: String) throws -> Duration {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        if suffix == "s" && text.hasSuffix("ms") { continue }
        if suffix == "m" && text.hasSuffix("ms") { continue }
        if let value = Double(text.dropLast(suffix.count)), value > 0, value.isFinite {
            return .milliseconds(Int64(value * scale * 1000))
        }
    }
    throw ValidationError("\(option) \(text) is not a duration like 500ms, 90s, 10m, 2h or 1d")
}

/// A failure while running a command (bad data, a missing file): printed without the usage text, exit status 1.
/// Argument problems use ArgumentParser's ValidationError (exit status 64, with usage).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
