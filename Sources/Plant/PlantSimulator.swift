import Primitives

/// A simulated reading with the truth behind it, which a real plant only learns later (or never).
public struct SimulatedReading: Sendable {
    public var reading: Reading
    /// Failure modes of the product this reading describes (empty when it did not fail or was not running).
    public var failure: FailureModes
}

/// A setpoint change for one machine, as carried on the `setpoints` topic.
public struct SetpointChange: Sendable, Equatable {
    public var machine: String
    public var values: [Measurement]
    /// Also change the tool now (a maintenance action).
    public var changeTool: Bool

    public init(machine: String, values: [Measurement], changeTool: Bool = false) {
        self.machine = machine
        self.values = values
        self.changeTool = changeTool
    }
}

/// N milling machines running in simulated time, deterministic for a seed. `next()` returns readings in timestamp
/// order across machines.
public struct PlantSimulator: Sendable {
    public let config: ProcessConfig
    public private(set) var machines: [MachineSimulator]
    private var heap: [(time: Int64, machine: Int)] = []
    private let index: [String: Int]
    /// Simulated time of the last reading returned.
    public private(set) var now: Int64
    /// Changes of the process still to come, in time order.
    private var changes: [ProcessChange] = []

    /// - Parameters:
    ///   - machines: how many machines, taken in order from the config's lines.
    ///   - start: simulated start time, ms since the epoch.
    ///   - profile: the physics' parameters (`PlantProfile.ai4i`, the dataset's, by default).
    public init(
        config: ProcessConfig, machines count: Int, seed: UInt64, start: Int64, profile: PlantProfile = .ai4i
    ) throws {
        try self.init(config: config, machines: count, seed: seed, start: start, physics: profile.physics)
    }

    public init(
        config: ProcessConfig, machines count: Int, seed: UInt64, start: Int64, physics: MillingPhysics
    ) throws {
        let missing = MillingPhysics.variables.filter { config.variable($0) == nil }
        guard missing.isEmpty else {
            throw ConfigError(
                "the simulator models the milling process and needs the variables \(missing.joined(separator: ", ")) "
                    + "in the process config (see config/milling.yaml)")
        }
        let ids = config.machineIDs
        guard count >= 1 && count <= ids.count else {
            throw ConfigError(
                "--machines \(count) is out of range: the process config '\(config.process)' declares \(ids.count) "
                    + "machines (1...\(ids.count)); add lines or machines to simulate more")
        }
        self.config = config
        let speed = config.variable("rpm")?.controllable?.nominal ?? 1510
        let torque = config.variable("torque_nm")?.controllable?.nominal ?? 40
        var seeds = RandomSource(seed: seed)
        var machines: [MachineSimulator] = []
        for id in ids.prefix(count) {
            machines.append(
                MachineSimulator(
                    id: id, seed: seeds.next(), physics: physics, speed: speed, torque: torque,
                    products: config.products))
        }
        self.machines = machines
        self.index = Dictionary(uniqueKeysWithValues: machines.enumerated().map { ($1.id, $0) })
        self.now = start
        // Machines start at random points within their first cycle.
        for i in machines.indices {
            push((start + Int64(seeds.uniform() * physics.baseCycleSeconds * 1000), i))
        }
    }

    public var machineIDs: [String] { machines.map(\.id) }

    /// Changes the process of every machine at a simulated time (a shifted regime, tools that wear faster): what the
    /// plant's models then have to notice.
    /// A change at or before the simulation's start is in force from the first reading, its temperatures already at
    /// their new means (a plant that has been in that regime).
    public mutating func schedule(_ change: ProcessChange) {
        guard change.at > now else {
            for m in machines.indices {
                change.apply(to: &machines[m].physics)
                machines[m].air = machines[m].physics.airMean
                machines[m].delta = machines[m].physics.deltaMean
            }
            return
        }
        changes.append(change)
        changes.sort { $0.at < $1.at }
    }

    /// Planned tool changes of all machines so far (the plant's own rule and ordered ones).
    public var toolChanges: Int { machines.reduce(0) { $0 + $1.toolChanges } }

    /// The next reading in time order.
    public mutating func next() -> SimulatedReading {
        let (time, i) = pop()
        now = time
        while let change = changes.first, change.at <= time {
            changes.removeFirst()
            for m in machines.indices { change.apply(to: &machines[m].physics) }
        }
        let step = machines[i].step(now: time)
        push((step.next, i))
        return SimulatedReading(reading: step.reading, failure: step.failure)
    }

    /// Applies a setpoint change, clamped to the controllable bounds of the config; returns the values applied.
    /// Unknown machines and variables that are not controllable are refused with an error.
    @discardableResult
    public mutating func apply(_ change: SetpointChange) throws -> [Measurement] {
        guard let i = index[change.machine] else {
            throw ConfigError("setpoint for unknown machine '\(change.machine)'")
        }
        var applied: [Measurement] = []
        var speed: Double?
        var torque: Double?
        for m in change.values {
            guard let c = config.variable(m.name)?.controllable else {
                throw ConfigError("setpoint for '\(m.name)', which the process config does not mark controllable")
            }
            guard m.value.isFinite else { throw ConfigError("setpoint \(m.name) = \(m.value) is not a finite number") }
            let value = min(c.max, max(c.min, m.value))
            switch m.name {
            case "rpm": speed = value
            case "torque_nm": torque = value
            default: throw ConfigError("the milling simulator has no setpoint '\(m.name)'")
            }
            applied.append(Measurement(m.name, value))
        }
        machines[i].setSetpoints(speed: speed, torque: torque)
        if change.changeTool { machines[i].changeTool(now: now) }
        return applied
    }

    // MARK: - Binary heap on (time, machine)

    private static func less(_ a: (time: Int64, machine: Int), _ b: (time: Int64, machine: Int)) -> Bool {
        a.time < b.time || (a.time == b.time && a.machine < b.machine)
    }

    private mutating func push(_ item: (time: Int64, machine: Int)) {
        heap.append(item)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func pop() -> (time: Int64, machine: Int) {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count && Self.less(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count && Self.less(heap[right], heap[smallest]) { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}

/// A change of the milling process at a simulated time: `simulate --change-at T --change delta_mean=8.8,wear_scale=1.5`.
public struct ProcessChange: Sendable, Equatable {
    public var at: Int64
    /// By parameter: `delta_mean` (process minus air temperature, K: a cooling that degrades), `air_mean` (K),
    /// `wear_scale` (a factor on tool wear per part), `torque_sd` (Nm), `random_failure` (probability per part).
    public var values: [String: Double]

    public static let parameters = ["delta_mean", "air_mean", "wear_scale", "torque_sd", "random_failure"]

    public init(at: Int64, values: [String: Double]) throws {
        for (key, value) in values {
            guard Self.parameters.contains(key) else {
                throw ConfigError("--change: '\(key)' is not one of \(Self.parameters.joined(separator: ", "))")
            }
            guard value.isFinite, key == "air_mean" || key == "delta_mean" || value >= 0 else {
                throw ConfigError("--change: \(key)=\(value) is not a valid value")
            }
        }
        self.at = at
        self.values = values
    }

    /// "delta_mean=8.8,wear_scale=1.5".
    public init(at: Int64, text: String) throws {
        var values: [String: Double] = [:]
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, let value = Double(kv[1]) else {
                throw ConfigError("--change takes KEY=NUMBER pairs separated by commas, not '\(part)'")
            }
            values[kv[0]] = value
        }
        guard !values.isEmpty else { throw ConfigError("--change names no parameter") }
        try self.init(at: at, values: values)
    }

    func apply(to physics: inout MillingPhysics) {
        for (key, value) in values {
            switch key {
            case "delta_mean": physics.deltaMean = value
            case "air_mean": physics.airMean = value
            case "wear_scale": physics.wearPerProduct = physics.wearPerProduct.mapValues { $0 * value }
            case "torque_sd": physics.torqueSD = value
            case "random_failure": physics.randomFailureProbability = value
            default: break
            }
        }
    }
}
