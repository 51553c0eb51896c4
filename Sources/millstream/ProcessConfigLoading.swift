import ArgumentParser
import Foundation
import Plant

/// Loads `--config FILE`, or the built-in milling process when none is given.
func loadProcessConfig(_ path: String?) throws -> ProcessConfig {
    guard let path else { return ProcessConfig.milling() }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CommandError("cannot read process config \(path): no such file or no permission")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw CommandError("process config \(path) is not UTF-8 text")
    }
    return try ProcessConfig.load(yaml: text, source: path)
}

extension PlantProfile: ExpressibleByArgument {}
