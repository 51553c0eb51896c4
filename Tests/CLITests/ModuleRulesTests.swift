import Foundation
import Testing

/// The import rules of docs/architecture.md, checked on the sources (the package's target dependencies enforce the
/// rest: a module cannot import what its target does not list).
@Suite struct ModuleRulesTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../Sources"
    ).standardized.path

    /// (path relative to Sources, the modules it imports)
    static func imports() throws -> [(String, Set<String>)] {
        let files = FileManager.default.enumerator(atPath: sources)!.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }
        return try files.map { file in
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            let modules = text.split(separator: "\n").compactMap { line -> String? in
                let words = line.trimmingCharacters(in: .whitespaces).split(separator: " ")
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count,
                    words[..<i].allSatisfy({ ["public", "package", "internal", "@_exported"].contains($0) })
                else { return nil }
                return String(words[i + 1].split(separator: ".")[0])
            }
            return (file, Set(modules))
        }
    }

    @Test func recordMoversUseTheBusProtocolOnly() throws {
        let all = try Self.imports()
        #expect(all.count > 100)
        let implementations: Set = ["EventLog", "Kafka", "KafkaWire", "BusEmbedded", "BusKafka", "Buses"]
        for (file, modules) in all where file.hasPrefix("Server/") || file.hasPrefix("Pipeline/") {
            #expect(
                modules.isDisjoint(with: implementations), "\(file) imports \(modules.intersection(implementations))")
        }
    }

    @Test func mathGoesThroughRealModule() throws {
        // POSIX file I/O (the log), getenv (the BLAS thread setting) and the dynamic linker's lookups (which `malloc`
        // the process runs on) are the only reasons to import the C library.
        let allowed: Set = ["EventLog/", "Learn/BLAS.swift", "Allocator/Allocator.swift"]
        for (file, modules) in try Self.imports() where !modules.isDisjoint(with: ["Glibc", "Darwin"]) {
            #expect(allowed.contains { file.hasPrefix($0) }, "\(file) imports the C library")
        }
    }

    /// Each function's (or initializer's) length in lines, from its declaration to its closing brace (string
    /// literals and comments left out of the brace count; generated code skipped).
    static func functionLengths() throws -> [(String, Int)] {
        let declaration = try Regex(
            #"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|package|static|mutating|override|final|nonisolated|convenience|required)\s+)*(func\s+([^\s(<]+)|init[?!]?|deinit)\b"#
        )
        var out: [(String, Int)] = []
        let files = FileManager.default.enumerator(atPath: sources)!.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") && !$0.hasSuffix(".pb.swift") }
        for file in files {
            let lines = try String(contentsOfFile: sources + "/" + file, encoding: .utf8).split(
                separator: "\n", omittingEmptySubsequences: false)
            for (i, line) in lines.enumerated() {
                guard let match = try declaration.firstMatch(in: String(line)) else { continue }
                let name = match.output[2].substring.map(String.init) ?? "init"
                var depth = 0
                var started = false
                var j = i
                while j < lines.count, j < i + 12 || started {
                    let code = Self.code(String(lines[j]))
                    // A protocol's requirement has no body: a next declaration or the protocol's end comes first.
                    let trimmed = code.trimmingCharacters(in: .whitespaces)
                    if !started, j > i,
                        ["func ", "init", "var ", "let ", "}", "public ", "static ", "@", "associatedtype "].contains(
                            where: { trimmed.hasPrefix($0) })
                    {
                        break
                    }
                    let opens = code.filter { $0 == "{" }.count
                    let closes = code.filter { $0 == "}" }.count
                    if started {
                        depth += opens - closes
                    } else if opens > closes {
                        started = true
                        depth = opens - closes
                    } else if opens > 0, opens == closes, code.hasSuffix("}"), !code.contains("= {") {
                        break  // a body on one line
                    }
                    if started && depth <= 0 { break }
                    j += 1
                }
                if started { out.append(("\(file):\(name)", j - i + 1)) }
            }
        }
        return out
    }

    /// A line without its string literals and its comment. Inside a literal a backslash escapes the next character,
    /// so `"\\"` ends where it should (taking any quote after a backslash as escaped left `"\\"` open to the end of
    /// the line, and its line's braces uncounted).
    static func code(_ line: String) -> String {
        var out = ""
        var inString = false
        var escaped = false
        var previous: Character = " "
        for c in line {
            if inString {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    inString = false
                }
            } else if c == "\"" {
                inString = true
            } else {
                if c == "/" && previous == "/" {
                    out.removeLast()
                    break
                }
                out.append(c)
            }
            previous = c
        }
        return out
    }

    @Test func noFunctionOver80Lines() throws {
        let lengths = try Self.functionLengths()
        #expect(lengths.count > 500)
        for (name, length) in lengths where length > 80 {
            Issue.record("\(name) is \(length) lines: split it (no function over 80 lines)")
        }
    }
}
