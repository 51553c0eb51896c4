import KafkaWire

/// Kafka's murmur2 partitioner (defined with the protocol in KafkaWire): the embedded bus places keys where Kafka does.
public typealias Partitioner = KafkaWire.Partitioner
