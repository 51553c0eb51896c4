import ArgumentParser
import Bus
import Buses
import Foundation

extension Millstream {
    struct Topics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, create and describe topics.", subcommands: [List.self, Create.self, Describe.self])
    }
}

extension Millstream.Topics {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List topics with their partitions and record counts.")
        @OptionGroup var busOptions: BusOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let bus = try openBus(busOptions.bus, readOnly: true)
            var rows: [[String: Any]] = []
            for name in try await bus.topicNames() {
                let d = try await bus.describeTopic(name)
                rows.append(["name": name, "partitions": d.partitions.count, "records": d.records])
            }
            if output.json {
                print(Terminal.jsonLine(["topics": rows]))
            } else if rows.isEmpty {
                print("no topics on \(busOptions.bus)")
            } else {
                print("TOPIC                PARTITIONS      RECORDS")
                for row in rows {
                    let name = (row["name"] as! String).padding(toLength: 20, withPad: " ", startingAt: 0)
                    let partitions = String(row["partitions"] as! Int)
                    let records = grouped(row["records"] as! Int64)
                    print(
                        "\(name) \(String(repeating: " ", count: max(0, 10 - partitions.count)))\(partitions) \(String(repeating: " ", count: max(0, 12 - records.count)))\(records)"
                    )
                }
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topic.")
        @Argument(help: "Topic name (a-z A-Z 0-9 . _ -).") var name: String
        @Option(help: "Number of partitions (the most pipeline workers that can share it).") var partitions = 8
        @OptionGroup var busOptions: BusOptions

        func validate() throws {
            guard (1...10_000).contains(partitions) else {
                throw ValidationError("--partitions \(partitions) is out of range: 1 to 10000")
            }
        }

        func run() async throws {
            let bus = try openBus(busOptions.bus)
            try await bus.createTopic(name, partitions: partitions)
            try await bus.close()
            print("created topic \(name) with \(partitions) partitions on \(busOptions.bus)")
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a topic's partitions, offsets and size.")
        @Argument(help: "Topic name.") var name: String
        @OptionGroup var busOptions: BusOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let bus = try openBus(busOptions.bus, readOnly: true)
            let d = try await bus.describeTopic(name)
            if output.json {
                print(
                    Terminal.jsonLine([
                        "name": d.name, "records": d.records,
                        "partitions": d.partitions.map {
                            [
                                "partition": $0.partition, "earliest_offset": $0.earliestOffset,
                                "latest_offset": $0.latestOffset, "records": $0.records,
                                "bytes": $0.sizeBytes as Any? ?? NSNull(),
                            ] as [String: Any]
                        },
                    ]))
            } else {
                print("topic \(d.name): \(d.partitions.count) partitions, \(grouped(d.records)) records")
                print("PARTITION   EARLIEST     LATEST      RECORDS        BYTES")
                for p in d.partitions {
                    let cells = [
                        String(p.partition), grouped(p.earliestOffset), grouped(p.latestOffset), grouped(p.records),
                        p.sizeBytes.map(grouped) ?? "-",  // Kafka does not report sizes through this API
                    ]
                    let widths = [9, 10, 10, 12, 12]
                    print(
                        zip(cells, widths).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined(
                            separator: " "))
                }
            }
        }
    }
}

extension Millstream {
    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the records of a topic, one value per line.",
            discussion: """
                Starts at the end of the topic and follows it (like a console consumer); --from-beginning starts at \
                the first record. Stops after --count records, or when caught up with --exit-at-end. Works while \
                another process writes the log. Order is per partition (records of one key stay in order).
                """)
        @Argument(help: "Topic name.") var topic: String
        @Flag(help: "Start at the first record instead of the end.") var fromBeginning = false
        @Option(help: "Stop after this many records.") var count: Int?
        @Flag(help: "Stop when no more records are there instead of waiting for new ones.") var exitAtEnd = false
        @Flag(help: "Prefix each value with its partition, offset and key.") var verbose = false
        @OptionGroup var busOptions: BusOptions

        func validate() throws {
            if let count, count < 1 { throw ValidationError("--count \(count) must be at least 1") }
        }

        func run() async throws {
            let bus = try openBus(busOptions.bus, readOnly: true)
            guard try await bus.topicNames().contains(topic) else {
                throw CommandError("topic \(topic) does not exist on \(busOptions.bus)")
            }
            let consumer = try await bus.consumer(
                ConsumerOptions(topics: [topic], start: fromBeginning ? .earliest : .latest))
            var out = StdoutWriter()
            var printed = 0
            while !Task.isCancelled {
                let want = count.map { $0 - printed } ?? 10_000
                if want <= 0 { break }
                let records = try await consumer.poll(
                    maxRecords: min(want, 10_000), timeout: exitAtEnd ? .milliseconds(200) : .seconds(1))
                if records.isEmpty {
                    out.flush()
                    if exitAtEnd { break }
                    continue
                }
                for r in records {
                    if verbose {
                        out.write(
                            "\(r.partition)\t\(r.offset)\t\(r.key.map { String(decoding: $0, as: UTF8.self) } ?? "-")\t"
                                .utf8)
                    }
                    out.write(r.value)
                    out.write(CollectionOfOne(10))
                }
                printed += records.count
            }
            out.flush()
        }
    }
}
