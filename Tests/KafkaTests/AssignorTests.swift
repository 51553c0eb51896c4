import Kafka
import Testing

/// The assignors split partitions as Kafka's RangeAssignor and RoundRobinAssignor do.
@Suite struct AssignorTests {
    @Test func rangeGivesEachMemberAContiguousRunPerTopic() {
        let plan = Assignors.assign(
            .range, subscriptions: ["c1": ["t0", "t1"], "c2": ["t0", "t1"]], partitionCounts: ["t0": 3, "t1": 3])
        // Kafka's documentation example: C0 gets t0p0, t0p1, t1p0, t1p1; C1 gets t0p2, t1p2.
        #expect(plan["c1"] == ["t0": [0, 1], "t1": [0, 1]])
        #expect(plan["c2"] == ["t0": [2], "t1": [2]])
    }

    @Test func roundRobinDealsAllPartitionsInTurn() {
        let plan = Assignors.assign(
            .roundrobin, subscriptions: ["c1": ["t0", "t1"], "c2": ["t0", "t1"]], partitionCounts: ["t0": 3, "t1": 3])
        // Kafka's documentation example: C0 gets t0p0, t0p2, t1p1; C1 gets t0p1, t1p0, t1p2.
        #expect(plan["c1"] == ["t0": [0, 2], "t1": [1]])
        #expect(plan["c2"] == ["t0": [1], "t1": [0, 2]])
    }

    @Test func membersOnlyGetTopicsTheySubscribeTo() {
        let plan = Assignors.assign(
            .roundrobin, subscriptions: ["a": ["x"], "b": ["x", "y"]], partitionCounts: ["x": 2, "y": 2])
        #expect(plan["a"]?["y"] == nil)
        #expect(plan["b"]?["y"] == [0, 1])
        let all = plan.values.flatMap { $0.flatMap { t, ps in ps.map { "\(t)\($0)" } } }
        #expect(all.sorted() == ["x0", "x1", "y0", "y1"])
    }
}
