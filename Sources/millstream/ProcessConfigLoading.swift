import ArgumentParser
import Foundation
import Plant

/// Loads `--config FILE`, or the built-in milling process when none is given.
func loadProcessConfig(_ path: String?) throws -> ProcessConfig {
    try loadProcessConfigText(path).config
}

/// The process config and its text (the built-in milling process's when no path is given), for the sections other
/// modules read from the same file (`connectors:`).
func loadProcessConfigText(_ path: String?) throws -> (config: ProcessConfig, text: String, source: String) {
    guard let path else { return (ProcessConfig.milling(), ProcessConfig.millingYAML, "the built-in milling config") }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CommandError("cannot read process config \(path): no such file or no permission")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw CommandError("process config \(path) is not UTF-8 text")
    }
    return (try ProcessConfig.load(yaml: text, source: path), text, path)
}

extension PlantProfile: ExpressibleByArgument {}
