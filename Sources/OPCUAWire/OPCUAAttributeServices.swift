// Browse, read, write and subscriptions (OPC 10000-4, 5.8, 5.10, 5.12, 5.13).

/// The attribute ids the client uses (OPC 10000-6, A.1).
public enum OPCUAAttribute: UInt32, Sendable {
    case nodeID = 1, nodeClass = 2, browseName = 3, displayName = 4, value = 13, dataType = 14
}

public struct OPCUABrowseDescription: Sendable, OPCUAEncodable {
    public var nodeID: OPCUANodeID
    /// 0 forward, 1 inverse, 2 both.
    public var direction: Int32 = 0
    /// HierarchicalReferences (i=33) and its subtypes by default.
    public var referenceTypeID: OPCUANodeID = .numeric(33)
    public var includeSubtypes = true
    public var nodeClassMask: UInt32 = 0
    /// Every field of the references.
    public var resultMask: UInt32 = 0x3F

    public init(nodeID: OPCUANodeID) { self.nodeID = nodeID }

    public func encode(to w: inout OPCUAWriter) {
        w.write(nodeID)
        w.write(direction)
        w.write(referenceTypeID)
        w.write(includeSubtypes)
        w.write(nodeClassMask)
        w.write(resultMask)
    }
}

public struct OPCUAReferenceDescription: Sendable, OPCUADecodable {
    public var referenceTypeID: OPCUANodeID
    public var isForward: Bool
    public var nodeID: OPCUAExpandedNodeID
    public var browseName: OPCUAQualifiedName
    public var displayName: OPCUALocalizedText
    /// 1 object, 2 variable, 4 method, ...
    public var nodeClass: Int32
    public var typeDefinition: OPCUAExpandedNodeID

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        referenceTypeID = try r.read()
        isForward = try r.readBool()
        nodeID = try r.read()
        browseName = try r.read()
        displayName = try r.read()
        nodeClass = try r.read()
        typeDefinition = try r.read()
    }
}

public struct OPCUABrowseResult: Sendable, OPCUADecodable {
    public var status: OPCUAStatusCode
    public var continuationPoint: [UInt8]?
    public var references: [OPCUAReferenceDescription]

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        status = try r.read()
        continuationPoint = try r.readByteString()
        references = try r.readArray(of: OPCUAReferenceDescription.self)
    }
}

public struct OPCUABrowseRequest: OPCUARequest {
    public typealias Response = OPCUABrowseResponse
    public static let binaryEncodingID: UInt32 = 527
    public var header: OPCUARequestHeader
    public var nodes: [OPCUABrowseDescription]
    public var maxReferencesPerNode: UInt32

    public init(header: OPCUARequestHeader, nodes: [OPCUABrowseDescription], maxReferencesPerNode: UInt32 = 1000) {
        self.header = header
        self.nodes = nodes
        self.maxReferencesPerNode = maxReferencesPerNode
    }

    public func encodeBody(to w: inout OPCUAWriter) {
        w.write(OPCUANodeID.null)  // the whole address space, no view
        w.write(Int64(0))
        w.write(UInt32(0))
        w.write(maxReferencesPerNode)
        w.write(nodes)
    }
}

public struct OPCUABrowseResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 530
    public let header: OPCUAResponseHeader
    public var results: [OPCUABrowseResult]

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        results = try r.readArray(of: OPCUABrowseResult.self)
        _ = try r.readArray(of: OPCUADiagnosticInfo.self)
    }
}

public struct OPCUABrowseNextRequest: OPCUARequest {
    public typealias Response = OPCUABrowseNextResponse
    public static let binaryEncodingID: UInt32 = 533
    public var header: OPCUARequestHeader
    public var continuationPoints: [[UInt8]]

    public init(header: OPCUARequestHeader, continuationPoints: [[UInt8]]) {
        self.header = header
        self.continuationPoints = continuationPoints
    }

    public func encodeBody(to w: inout OPCUAWriter) {
        w.write(false)  // continue, not release
        w.write(continuationPoints) { $0.write(bytes: $1) }
    }
}

public struct OPCUABrowseNextResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 536
    public let header: OPCUAResponseHeader
    public var results: [OPCUABrowseResult]

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        results = try r.readArray(of: OPCUABrowseResult.self)
        _ = try r.readArray(of: OPCUADiagnosticInfo.self)
    }
}

public struct OPCUAReadValueID: Sendable, OPCUAEncodable {
    public var nodeID: OPCUANodeID
    public var attribute: OPCUAAttribute

    public init(_ nodeID: OPCUANodeID, _ attribute: OPCUAAttribute = .value) {
        self.nodeID = nodeID
        self.attribute = attribute
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(nodeID)
        w.write(attribute.rawValue)
        w.write(String?.none)  // index range
        w.write(OPCUAQualifiedName(0, nil))  // data encoding: the default
    }
}

/// Which times a read or a monitored item returns.
public enum OPCUATimestamps: Int32, Sendable {
    case source = 0, server = 1, both = 2, neither = 3
}

public struct OPCUAReadRequest: OPCUARequest {
    public typealias Response = OPCUAReadResponse
    public static let binaryEncodingID: UInt32 = 631
    public var header: OPCUARequestHeader
    public var nodes: [OPCUAReadValueID]
    public var timestamps: OPCUATimestamps

    public init(header: OPCUARequestHeader, nodes: [OPCUAReadValueID], timestamps: OPCUATimestamps = .both) {
        self.header = header
        self.nodes = nodes
        self.timestamps = timestamps
    }

    public func encodeBody(to w: inout OPCUAWriter) {
        w.write(Double(0))  // max age: read from the device
        w.write(timestamps.rawValue)
        w.write(nodes)
    }
}

public struct OPCUAReadResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 634
    public let header: OPCUAResponseHeader
    public var results: [OPCUADataValue]

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        results = try r.readArray(of: OPCUADataValue.self)
        _ = try r.readArray(of: OPCUADiagnosticInfo.self)
    }
}

public struct OPCUAWriteValue: Sendable, OPCUAEncodable {
    public var nodeID: OPCUANodeID
    public var value: OPCUADataValue

    /// `sourceTimestamp` (ticks): when the value was sampled, for a writer that is the source (a simulator).
    public init(_ nodeID: OPCUANodeID, _ value: OPCUAVariant, sourceTimestamp: Int64? = nil) {
        self.nodeID = nodeID
        self.value = OPCUADataValue(value: value, sourceTimestamp: sourceTimestamp)
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(nodeID)
        w.write(OPCUAAttribute.value.rawValue)
        w.write(String?.none)
        w.write(value)
    }
}

public struct OPCUAWriteRequest: OPCUARequest {
    public typealias Response = OPCUAWriteResponse
    public static let binaryEncodingID: UInt32 = 673
    public var header: OPCUARequestHeader
    public var values: [OPCUAWriteValue]

    public init(header: OPCUARequestHeader, values: [OPCUAWriteValue]) {
        self.header = header
        self.values = values
    }

    public func encodeBody(to w: inout OPCUAWriter) { w.write(values) }
}

public struct OPCUAWriteResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 676
    public let header: OPCUAResponseHeader
    public var results: [OPCUAStatusCode]

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        results = try r.readArray(of: OPCUAStatusCode.self)
        _ = try r.readArray(of: OPCUADiagnosticInfo.self)
    }
}

// MARK: - Subscriptions

public struct OPCUACreateSubscriptionRequest: OPCUARequest {
    public typealias Response = OPCUACreateSubscriptionResponse
    public static let binaryEncodingID: UInt32 = 787
    public var header: OPCUARequestHeader
    /// Milliseconds.
    public var publishingInterval: Double
    public var lifetimeCount: UInt32
    public var maxKeepAliveCount: UInt32
    public var maxNotificationsPerPublish: UInt32

    public init(
        header: OPCUARequestHeader, publishingInterval: Double, lifetimeCount: UInt32 = 600,
        maxKeepAliveCount: UInt32 = 20, maxNotificationsPerPublish: UInt32 = 0
    ) {
        self.header = header
        self.publishingInterval = publishingInterval
        self.lifetimeCount = lifetimeCount
        self.maxKeepAliveCount = maxKeepAliveCount
        self.maxNotificationsPerPublish = maxNotificationsPerPublish
    }

    public func encodeBody(to w: inout OPCUAWriter) {
        w.write(publishingInterval)
        w.write(lifetimeCount)
        w.write(maxKeepAliveCount)
        w.write(maxNotificationsPerPublish)
        w.write(true)  // publishing enabled
        w.write(UInt8(0))  // priority
    }
}

public struct OPCUACreateSubscriptionResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 790
    public let header: OPCUAResponseHeader
    public var subscriptionID: UInt32
    public var revisedPublishingInterval: Double
    public var revisedLifetimeCount: UInt32
    public var revisedMaxKeepAliveCount: UInt32

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        subscriptionID = try r.read()
        revisedPublishingInterval = try r.readDouble()
        revisedLifetimeCount = try r.read()
        revisedMaxKeepAliveCount = try r.read()
    }
}

public struct OPCUAMonitoredItemCreateRequest: Sendable, OPCUAEncodable {
    public var item: OPCUAReadValueID
    public var clientHandle: UInt32
    /// Milliseconds; -1: the subscription's publishing interval.
    public var samplingInterval: Double
    public var queueSize: UInt32

    public init(_ nodeID: OPCUANodeID, clientHandle: UInt32, samplingInterval: Double, queueSize: UInt32 = 100) {
        self.item = OPCUAReadValueID(nodeID)
        self.clientHandle = clientHandle
        self.samplingInterval = samplingInterval
        self.queueSize = queueSize
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(item)
        w.write(Int32(2))  // reporting
        w.write(clientHandle)
        w.write(samplingInterval)
        w.write(OPCUAExtensionObject.empty)  // no filter: every change of the value or its status
        w.write(queueSize)
        w.write(true)  // discard the oldest
    }
}

public struct OPCUAMonitoredItemCreateResult: Sendable, OPCUADecodable {
    public var status: OPCUAStatusCode
    public var monitoredItemID: UInt32
    public var revisedSamplingInterval: Double
    public var revisedQueueSize: UInt32

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        status = try r.read()
        monitoredItemID = try r.read()
        revisedSamplingInterval = try r.readDouble()
        revisedQueueSize = try r.read()
        _ = try r.read(OPCUAExtensionObject.self)
    }
}

public struct OPCUACreateMonitoredItemsRequest: OPCUARequest {
    public typealias Response = OPCUACreateMonitoredItemsResponse
    public static let binaryEncodingID: UInt32 = 751
    public var header: OPCUARequestHeader
    public var subscriptionID: UInt32
    public var timestamps: OPCUATimestamps
    public var items: [OPCUAMonitoredItemCreateRequest]

    public init(
        header: OPCUARequestHeader, subscriptionID: UInt32, timestamps: OPCUATimestamps = .both,
        items: [OPCUAMonitoredItemCreateRequest]
    ) {
        self.header = header
        self.subscriptionID = subscriptionID
        self.timestamps = timestamps
        self.items = items
    }

    public func encodeBody(to w: inout OPCUAWriter) {
        w.write(subscriptionID)
        w.write(timestamps.rawValue)
        w.write(items)
    }
}

public struct OPCUACreateMonitoredItemsResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 754
    public let header: OPCUAResponseHeader
    public var results: [OPCUAMonitoredItemCreateResult]

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        results = try r.readArray(of: OPCUAMonitoredItemCreateResult.self)
        _ = try r.readArray(of: OPCUADiagnosticInfo.self)
    }
}

public struct OPCUASubscriptionAcknowledgement: Sendable, Hashable, OPCUAEncodable {
    public var subscriptionID: UInt32
    public var sequenceNumber: UInt32

    public init(subscriptionID: UInt32, sequenceNumber: UInt32) {
        self.subscriptionID = subscriptionID
        self.sequenceNumber = sequenceNumber
    }

    public func encode(to w: inout OPCUAWriter) {
        w.write(subscriptionID)
        w.write(sequenceNumber)
    }
}

public struct OPCUAPublishRequest: OPCUARequest {
    public typealias Response = OPCUAPublishResponse
    public static let binaryEncodingID: UInt32 = 826
    public var header: OPCUARequestHeader
    public var acknowledgements: [OPCUASubscriptionAcknowledgement]

    public init(header: OPCUARequestHeader, acknowledgements: [OPCUASubscriptionAcknowledgement]) {
        self.header = header
        self.acknowledgements = acknowledgements
    }

    public func encodeBody(to w: inout OPCUAWriter) { w.write(acknowledgements) }
}

/// A monitored item's new value.
public struct OPCUAMonitoredItemNotification: Sendable, OPCUADecodable {
    public var clientHandle: UInt32
    public var value: OPCUADataValue

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        clientHandle = try r.read()
        value = try r.read()
    }
}

public struct OPCUADataChangeNotification: Sendable, OPCUADecodable, OPCUAStructure {
    public static let binaryEncodingID: UInt32 = 811
    public var items: [OPCUAMonitoredItemNotification]

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        items = try r.readArray(of: OPCUAMonitoredItemNotification.self)
        _ = try r.readArray(of: OPCUADiagnosticInfo.self)
    }
}

/// The subscription's own state changed (it timed out, was closed).
public struct OPCUAStatusChangeNotification: Sendable, OPCUADecodable, OPCUAStructure {
    public static let binaryEncodingID: UInt32 = 820
    public var status: OPCUAStatusCode

    public init(from r: inout OPCUAReader) throws(OPCUAWireError) {
        status = try r.read()
        _ = try OPCUADiagnosticInfo(from: &r)
    }
}

public struct OPCUAPublishResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 829
    public let header: OPCUAResponseHeader
    public var subscriptionID: UInt32
    public var moreNotifications: Bool
    public var sequenceNumber: UInt32
    /// Ticks.
    public var publishTime: Int64
    /// DataChangeNotification, StatusChangeNotification, EventNotificationList.
    public var notifications: [OPCUAExtensionObject]

    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        subscriptionID = try r.read()
        _ = try r.readArray { (r: inout OPCUAReader) throws(OPCUAWireError) in try r.read(UInt32.self) }
        moreNotifications = try r.readBool()
        sequenceNumber = try r.read()
        publishTime = try r.read()
        notifications = try r.readArray(of: OPCUAExtensionObject.self)
        _ = try r.readArray(of: OPCUAStatusCode.self)
        _ = try r.readArray(of: OPCUADiagnosticInfo.self)
    }
}

public struct OPCUADeleteSubscriptionsRequest: OPCUARequest {
    public typealias Response = OPCUADeleteSubscriptionsResponse
    public static let binaryEncodingID: UInt32 = 847
    public var header: OPCUARequestHeader
    public var subscriptionIDs: [UInt32]

    public init(header: OPCUARequestHeader, subscriptionIDs: [UInt32]) {
        self.header = header
        self.subscriptionIDs = subscriptionIDs
    }

    public func encodeBody(to w: inout OPCUAWriter) { w.write(subscriptionIDs) { $0.write($1) } }
}

public struct OPCUADeleteSubscriptionsResponse: OPCUAResponse {
    public static let binaryEncodingID: UInt32 = 850
    public let header: OPCUAResponseHeader
    public init(header: OPCUAResponseHeader, body r: inout OPCUAReader) throws(OPCUAWireError) {
        self.header = header
        _ = try r.readArray(of: OPCUAStatusCode.self)
        _ = try r.readArray(of: OPCUADiagnosticInfo.self)
    }
}
