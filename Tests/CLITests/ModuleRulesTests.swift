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
        // POSIX file I/O (the log) and getenv (the BLAS thread setting) are the only reasons to import the C library.
        let allowed: Set = ["EventLog/", "Learn/BLAS.swift"]
        for (file, modules) in try Self.imports() where !modules.isDisjoint(with: ["Glibc", "Darwin"]) {
            #expect(allowed.contains { file.hasPrefix($0) }, "\(file) imports the C library")
        }
    }
}
