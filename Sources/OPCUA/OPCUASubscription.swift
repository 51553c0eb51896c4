public import OPCUAWire

extension OPCUAConnection {
    /// Creates a subscription that publishes at most every `publishingInterval`.
    public func createSubscription(publishingInterval: Duration) async throws -> OPCUACreateSubscriptionResponse {
        try await send(
            OPCUACreateSubscriptionRequest(header: header(), publishingInterval: publishingInterval.milliseconds))
    }

    /// Monitors the nodes' values in the subscription, each item known by its client handle in notifications; one
    /// result per node (a node that does not exist is a bad status there, not an error of the call).
    public func monitor(
        subscription: UInt32, _ items: [(node: OPCUANodeID, clientHandle: UInt32)], samplingInterval: Duration
    ) async throws -> [OPCUAMonitoredItemCreateResult] {
        let ms = samplingInterval.milliseconds
        let response = try await send(
            OPCUACreateMonitoredItemsRequest(
                header: header(), subscriptionID: subscription,
                items: items.map {
                    OPCUAMonitoredItemCreateRequest($0.node, clientHandle: $0.clientHandle, samplingInterval: ms)
                }))
        guard response.results.count == items.count else {
            throw OPCUAError("\(endpoint) answered \(response.results.count) of \(items.count) monitored items")
        }
        return response.results
    }

    /// One publish request: the server answers when it has notifications, or a keep-alive. It acknowledges earlier
    /// notification messages (so the server may forget them). `wait` bounds the wait (the keep-alive interval and
    /// a margin).
    public func publish(acknowledging: [OPCUASubscriptionAcknowledgement], wait: Duration) async throws
        -> OPCUAPublishResponse
    {
        try await send(OPCUAPublishRequest(header: header(), acknowledgements: acknowledging), timeout: wait)
    }

    /// Ends a subscription.
    public func deleteSubscription(_ id: UInt32) async throws {
        _ = try await send(OPCUADeleteSubscriptionsRequest(header: header(), subscriptionIDs: [id]))
    }
}

extension OPCUAPublishResponse {
    /// The data changes in the notification message (status changes and events left out).
    public func dataChanges() throws(OPCUAWireError) -> [OPCUAMonitoredItemNotification] {
        var out: [OPCUAMonitoredItemNotification] = []
        for n in notifications {
            if let change = try n.decode(OPCUADataChangeNotification.self) { out += change.items }
        }
        return out
    }

    /// The subscription's status change in the message, if any (it timed out or was closed).
    public func statusChange() throws(OPCUAWireError) -> OPCUAStatusCode? {
        for n in notifications {
            if let s = try n.decode(OPCUAStatusChangeNotification.self) { return s.status }
        }
        return nil
    }
}

extension Duration {
    /// In milliseconds, as OPC UA's intervals are.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
