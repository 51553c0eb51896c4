public import Bus
import BusEmbedded
import BusKafka

/// Opens the bus a URL names: `embedded://PATH` on this machine's log, `kafka://HOST:PORT` on a Kafka cluster.
public func openBus(_ text: String, readOnly: Bool = false) throws -> any MessageBus {
    let url = try BusURL(text)
    switch url.kind {
    case .embedded: return try EmbeddedBus(url: url, readOnly: readOnly)
    case .kafka: return try KafkaBus(url: url, readOnly: readOnly)
    }
}
