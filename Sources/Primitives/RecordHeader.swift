/// A named header value, as in Kafka: one type for the event log's records and the bus's, so a record passes from
/// one to the other without its headers being copied into another type (a copy per record was an allocation per
/// output of the pipeline's worker).
public struct RecordHeader: Sendable, Hashable {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}
