import Foundation
import Sparkplug
import Testing

/// Payloads made by a second implementation: Eclipse Tahu's Python payload helpers as mqtt-spb-wrapper 2.1.2 ships
/// them (`getNodeBirthPayload`, `getDeviceBirthPayload`, `addMetric`), timestamps 2026-01-01T00:00:00Z.
enum TahuFixtures {
    static let t0: UInt64 = 1_767_225_600_000
    /// seq 0, bdSeq 1 (Int64), Node Control/Rebirth false.
    static let nbirth = hex(
        "0880d0eab6b73312120a0562645365711880d0eab6b7332004580112210a144e6f646520436f6e74726f6c2f526562697274681880d0eab6b733200b70001800"
    )
    /// seq 1: Temperature (alias 1, Double 300.5), Torque (2, Float 40.25), Offset (3, Int16 -5), State (4, String
    /// "running"), Good (5, UInt64 12).
    static let dbirth = hex(
        "0880d0eab6b73312210a0b54656d706572617475726510011880d0eab6b733200a690000000000c8724012180a06546f7271756510021880d0eab6b7332009650000214212170a064f666673657410031880d0eab6b733200250fbff03121b0a05537461746510041880d0eab6b733200c7a0772756e6e696e6712130a04476f6f6410051880d0eab6b7332008580c1801"
    )
    /// seq 2, by alias only: Temperature 301.0 and Offset -7, acquired 900 ms after t0, sent at t0 + 1 s.
    static let ddata = hex(
        "08e8d7eab6b733121410011884d7eab6b733200a690000000000d07240120f10031884d7eab6b733200250f9ff031802")

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }
}

@Suite struct SparkplugPayloadTests {
    @Test func decodesTahuBirthsAndData() throws {
        let birth = try SparkplugPayload(decoding: TahuFixtures.dbirth)
        #expect(birth.seq == 1)
        #expect(birth.timestamp == TahuFixtures.t0)
        let byName = Dictionary(uniqueKeysWithValues: birth.metrics.map { ($0.name!, $0) })
        #expect(try byName["Temperature"]!.value(as: .double) == .double(300.5))
        #expect(try byName["Torque"]!.value(as: .float) == .float(40.25))
        #expect(try byName["Offset"]!.value(as: .int16) == .int(-5))  // two's complement in a uint32
        #expect(try byName["State"]!.value(as: .string) == .string("running"))
        #expect(try byName["Good"]!.value(as: .uint64) == .uint(12))
        #expect(byName["Offset"]!.alias == 3)
        let data = try SparkplugPayload(decoding: TahuFixtures.ddata)
        #expect(data.metrics.allSatisfy { $0.name == nil })
        #expect(data.metrics.map(\.alias) == [1, 3])
    }

    @Test func encodesWhatItDecodes() throws {
        let payload = SparkplugPayload(
            timestamp: 5, seq: 255,
            metrics: [
                .number(-3, as: .int8, name: "a", alias: 1)!, .number(70_000, as: .uint32, alias: 2)!,
                .number(-2, as: .int64, name: "c")!, .number(2.5, as: .float, name: "d")!,
                SparkplugMetric(name: "e", dataType: .string, value: .null, quality: 500),
            ])
        let back = try SparkplugPayload(decoding: payload.encoded())
        #expect(back == payload)
        #expect(try back.metrics[0].value(as: .int8) == .int(-3))
        #expect(try back.metrics[2].value(as: .int64) == .int(-2))
        #expect(back.metrics[4].quality == 500)
        #expect(SparkplugMetric.number(300, as: .int8) == nil)  // does not fit
    }

    @Test func malformedAndMistypedPayloadsAreErrors() throws {
        #expect(throws: SparkplugError.self) { try SparkplugPayload(decoding: [0x12, 0x05, 0x0a]) }
        let nameless = SparkplugPayload(metrics: [SparkplugMetric(dataType: .double, value: .double(1))])
        #expect(throws: SparkplugError.self) { try SparkplugPayload(decoding: nameless.encoded()) }
        let m = SparkplugMetric(name: "x", dataType: .double, value: .string("1.5"))
        let error = #expect(throws: SparkplugError.self) { try m.value(as: .double) }
        #expect(error?.message == "declares double but carries a string_value")
    }

    @Test func topics() throws {
        let t = try #require(try SparkplugTopic(parsing: "spBv1.0/plant1/DDATA/edge1/m01"))
        #expect(t.type == .ddata)
        #expect(t.entity == SparkplugEntityID(node: .init(group: "plant1", node: "edge1"), device: "m01"))
        #expect(t.text == "spBv1.0/plant1/DDATA/edge1/m01")
        #expect(try SparkplugTopic(parsing: "spBv1.0/STATE/host") == nil)
        #expect(try SparkplugTopic(parsing: "factory/line1") == nil)
        #expect(throws: SparkplugError.self) { try SparkplugTopic(parsing: "spBv1.0/plant1/NDATA/edge1/m01") }
        #expect(throws: SparkplugError.self) { try SparkplugTopic(parsing: "spBv1.0/plant1/XDATA/edge1") }
        #expect(throws: SparkplugError.self) { try SparkplugTopic(parsing: "spBv1.0/plant1/DDATA/edge1") }
    }
}

@Suite struct SparkplugHostTests {
    let node = SparkplugNodeID(group: "plant1", node: "edge1")
    var device: SparkplugEntityID { SparkplugEntityID(node: node, device: "m01") }

    func topic(_ type: SparkplugMessageType, device: Bool = true) -> SparkplugTopic {
        SparkplugTopic(type, device ? self.device : SparkplugEntityID(node: node))
    }

    func born() -> SparkplugHost {
        var host = SparkplugHost()
        _ = host.receive(topic: topic(.nbirth, device: false), payload: TahuFixtures.nbirth, now: 0)
        _ = host.receive(topic: topic(.dbirth), payload: TahuFixtures.dbirth, now: 0)
        return host
    }

    func data(seq: UInt64, _ metrics: [SparkplugMetric]) -> [UInt8] {
        SparkplugPayload(timestamp: TahuFixtures.t0, seq: seq, metrics: metrics).encoded()
    }

    @Test func birthsThenDataByAliasGiveFullSnapshots() throws {
        var host = born()
        #expect(host.isOnline(device))
        #expect(host.metric("Offset", of: device)! == (3, .int16))
        let events = host.receive(topic: topic(.ddata), payload: TahuFixtures.ddata, now: 0)
        guard case .snapshot(let s)? = events.first, events.count == 1 else {
            Issue.record("expected one snapshot, got \(events)")
            return
        }
        #expect(s.changed == ["Temperature", "Offset"])
        #expect(s.metrics["Temperature"]?.value == .double(301))
        #expect(s.metrics["Offset"]?.value == .int(-7))
        #expect(s.metrics["Torque"]?.value == .float(40.25))  // unchanged, from the birth
        #expect(s.metrics["Temperature"]?.timestamp == TahuFixtures.t0 + 900)
    }

    @Test func aSequenceGapAsksForARebirthAndHoldsDataUntilIt() {
        var host = born()
        let gap = host.receive(
            topic: topic(.ddata), payload: data(seq: 5, [.number(1, as: .double, alias: 1)!]), now: 1_000)
        #expect(gap.contains { if case .rejected(_, "sequence_gap", _) = $0 { true } else { false } })
        #expect(gap.contains { if case .rebirth(node, _) = $0 { true } else { false } })
        #expect(!host.isOnline(device))
        // The next message in sequence is not trusted either (the lost one may have changed a value), and the
        // rebirth is not asked again within the interval.
        let next = host.receive(
            topic: topic(.ddata), payload: data(seq: 6, [.number(2, as: .double, alias: 1)!]), now: 2_000)
        #expect(next.count == 1)
        #expect(next.contains { if case .rejected(_, "stale", _) = $0 { true } else { false } })
        _ = host.receive(topic: topic(.nbirth, device: false), payload: TahuFixtures.nbirth, now: 3_000)
        _ = host.receive(topic: topic(.dbirth), payload: TahuFixtures.dbirth, now: 3_000)
        #expect(host.isOnline(device))
    }

    @Test func sequenceNumbersWrapAt256() {
        var host = born()
        var seq: UInt64 = 2
        for i in 0..<300 {
            let events = host.receive(
                topic: topic(.ddata), payload: data(seq: seq, [.number(Double(i), as: .double, alias: 1)!]), now: 0)
            guard case .snapshot? = events.first else {
                Issue.record("message \(i) (seq \(seq)): \(events)")
                return
            }
            seq = (seq + 1) % 256
        }
    }

    @Test func deathOfTheCurrentSessionMakesDataStale() {
        var host = born()
        // A will from an earlier session (another bdSeq) does not kill the current one.
        let old = SparkplugPayload(metrics: [.number(0, as: .int64, name: "bdSeq")!]).encoded()
        #expect(host.receive(topic: topic(.ndeath, device: false), payload: old, now: 0).isEmpty)
        #expect(host.isOnline(device))
        let death = SparkplugPayload(metrics: [.number(1, as: .int64, name: "bdSeq")!]).encoded()
        let events = host.receive(topic: topic(.ndeath, device: false), payload: death, now: 0)
        #expect(events.contains { if case .offline(device, _) = $0 { true } else { false } })
        let late = host.receive(topic: topic(.ddata), payload: TahuFixtures.ddata, now: 10_000)
        #expect(late.contains { if case .rejected(_, "stale", _) = $0 { true } else { false } })
        #expect(late.contains { if case .rebirth = $0 { true } else { false } })
    }

    @Test func dataWithoutBirthWrongTypesAndUnknownAliasesAreRejected() {
        var host = SparkplugHost()
        let orphan = host.receive(topic: topic(.ddata), payload: TahuFixtures.ddata, now: 0)
        #expect(orphan.contains { if case .rejected(_, "no_birth", _) = $0 { true } else { false } })
        #expect(orphan.contains { if case .rebirth = $0 { true } else { false } })

        host = born()
        let wrong = host.receive(
            topic: topic(.ddata),
            payload: data(seq: 2, [SparkplugMetric(alias: 1, value: .string("hot"))]), now: 0)
        guard case .rejected(_, "wrong_type", let message)? = wrong.first else {
            Issue.record("\(wrong)")
            return
        }
        #expect(message.contains("metric Temperature declares double but carries a string_value"))
        let unknown = host.receive(
            topic: topic(.ddata), payload: data(seq: 3, [.number(1, as: .double, alias: 99)!]), now: 0)
        #expect(unknown.contains { if case .rejected(_, "unknown_alias", _) = $0 { true } else { false } })
        let garbage = host.receive(topic: topic(.ddata), payload: [0xff, 0xff, 0xff], now: 0)
        #expect(garbage.contains { if case .rejected(_, "malformed", _) = $0 { true } else { false } })
        // Rejected messages still took their sequence numbers: the next one is in sequence.
        let ok = host.receive(topic: topic(.ddata), payload: data(seq: 4, [.number(7, as: .double, alias: 1)!]), now: 0)
        #expect(ok.contains { if case .snapshot = $0 { true } else { false } })
    }

    @Test func historicalMetricsStayOutOfTheLiveState() {
        var host = born()
        var old = SparkplugMetric.number(250, as: .double, alias: 1)!
        old.isHistorical = true
        let events = host.receive(
            topic: topic(.ddata), payload: data(seq: 2, [old, .number(-1, as: .int16, alias: 3)!]), now: 0)
        #expect(events.contains { if case .rejected(_, "historical", _) = $0 { true } else { false } })
        guard case .snapshot(let s)? = events.last else { return }
        #expect(s.metrics["Temperature"]?.value == .double(300.5))
        #expect(s.changed == ["Offset"])
    }
}
