import ArgumentParser
import Foundation

@main
struct Millstream: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "millstream",
        abstract: "Real-time manufacturing process optimization: stream, score, control, recommend.",
        discussion: """
            Readings flow from machines (or the simulator) through a durable bus (an embedded log on one machine, \
            or Kafka) into the pipeline. Start with `millstream demo`.
            """,
        version: "0.1.0",
        subcommands: [
            Demo.self, Simulate.self, Topics.self, Tail.self, Dataset.self, Import.self, Train.self, Evaluate.self,
            Predict.self, Retrain.self,
            Models.self, Run.self, Connect.self, Serve.self, Historian.self, Export.self, Tokens.self, Keys.self,
            Optimize.self, Alarms.self,
        ]
    )

    static func main() async {
        // A file-size limit (ulimit -f) must surface as a write error the log handles, not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        // A closed stdout pipe (`millstream tail ... | head`) ends the command quietly.
        signal(SIGPIPE, SIG_IGN)
        await main(nil)
    }
}

/// The bus every command talks to.
struct BusOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where the bus is: embedded://PATH (a log directory on this machine) or kafka://HOST:PORT[,HOST:PORT].",
            discussion:
                "embedded:// takes options: ?fsync=batch|never|100ms (default 100ms) and partitions=N for new topics (default 8)."
        ))
    var bus: String = "embedded://./millstream-data"
}

/// Shared by commands that print a result.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print the result as one JSON object (for scripts).")
    var json = false
}
