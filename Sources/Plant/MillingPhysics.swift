import Primitives
import RealModule

/// The generating rules of the AI4I 2020 dataset (Matzka 2020), fitted to the published data where the paper gives
/// no number, plus what a plant has and the dataset does not (downtime, tool changes, scrap, cycle time).
public struct MillingPhysics: Sendable {
    // Air temperature: a slow random walk around 300 K with sd 2 K (lag-1 autocorrelation 0.9994 in the data).
    public var airMean = 300.0, airSD = 2.0, airRho = 0.9994
    // Process minus air temperature: around 10 K with sd 1 K, slowly varying (lag-1 autocorrelation 0.9975).
    public var deltaMean = 10.0, deltaSD = 1.0, deltaRho = 0.9975
    // Torque: normal around the torque target, sd 10 Nm, never below the floor.
    public var torqueSD = 10.0, torqueFloor = 3.0
    // Speed: setpoint x (torque / target)^-0.3694 x lognormal noise (log-log fit to the data: slope -0.369, sd 0.0355).
    public var speedTorqueExponent = -0.3694, speedNoise = 0.0355
    /// How long a tool lasts and what happens at its end (see `ToolLife`).
    public var toolLife = ToolLife.ai4i
    /// Wear added per product, by product type (H 5, M 3, L 2 min).
    public var wearPerProduct: [String: Double] = ["L": 2, "M": 3, "H": 5]
    /// Overstrain: wear x torque above this fails (min Nm), by product type.
    public var overstrainLimit: [String: Double] = ["L": 11_000, "M": 12_000, "H": 13_000]
    // Heat dissipation: temperature difference below 8.6 K and speed below 1380 rpm.
    public var heatDeltaLimit = 8.6, heatSpeedLimit = 1380.0
    // Power: torque x angular speed outside 3500...9000 W.
    public var powerRange = 3500.0...9000.0
    public var randomFailureProbability = 0.001
    /// Repair time after a failure, in minutes (scaled by a uniform 0.5...1.5).
    public var repairMinutes: [String: Double] = ["TWF": 30, "HDF": 45, "PWF": 60, "OSF": 40, "RNF": 30]
    public var plannedToolChangeMinutes = 10.0
    /// Cycle time at nominal speed, seconds; it shrinks as speed rises: x (nominal / speed)^0.3.
    public var baseCycleSeconds = 60.0, cycleSpeedExponent = 0.3, cycleNoise = 0.02
    /// The cycle also shrinks with the torque target (a cut's feed, and so its metal removal rate, sets its torque):
    /// x (nominal / target)^cycleTorqueExponent. 0 in AI4I, where torque costs no time.
    public var cycleTorqueExponent = 0.0
    /// Scrap: a base rate, more with a worn tool (above 180 min) and with power near its limits.
    public var baseScrap = 0.005, wornToolScrap = 0.03, powerEdgeScrap = 0.02

    // Operating variation, all off in the AI4I profile (see `PlantProfile.realistic` and docs/simulator.md).
    /// Amplitude in K of the day's ambient cycle on both temperatures (a sine over 24 h of simulated time).
    public var ambientAmplitude = 0.0
    /// Parts per material lot (0: one endless lot). Each lot's hardness scales torque by a lognormal factor with
    /// this log standard deviation, and a changeover between lots stops the machine (`setup`) for `setupMinutes`.
    public var lotParts = 0, lotTorqueSD = 0.0, setupMinutes = 0.0
    /// A worn tool cuts at a higher torque: x (1 + wornToolTorque x (wear / the tool's life)^wornToolExponent), the
    /// rise sharpening towards the end of its life (cutting forces grow with flank wear; Sikdar and Chen 2002).
    public var wornToolTorque = 0.0, wornToolExponent = 3.0
    /// Machines start with tools somewhere in their life instead of all fresh (which would make every machine
    /// change its tool at about the same time).
    public var staggeredTools = false
    /// Short stops (a jammed chip, a part not loaded): probability per part, and their length in minutes.
    public var minorStopProbability = 0.0, minorStopMinutes = 1.0...5.0

    /// The AI4I 2020 rules and parameters, as in the dataset (the default).
    public init() {}

    /// The variables the physics produces; a process config for the simulator must declare them.
    public static let variables = ["air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min"]

    /// Mechanical power in W for torque in Nm and speed in rpm.
    @inline(__always) public static func power(torque: Double, rpm: Double) -> Double { torque * rpm * 2 * .pi / 60 }
}

/// One simulated milling machine. Each call to `step` machines one product (or reports a down state) and returns
/// the reading with its true failure modes. All randomness comes from the machine's own seeded sources.
///
/// - Important: Common random numbers. The environment (temperatures, product mix, torque and speed noise), the
///   events (random failures, scrap, repair times) and the tools (life, whether the tool breaks or is changed in time)
///   each have their own source, and every running product draws the same count from the first two whatever the
///   setpoints. Two runs with one seed but different setpoints or maintenance therefore see the same n-th product
///   and the same n-th tool, which is what makes a with/without comparison (`millstream optimize evaluate`) fair.
public struct MachineSimulator: Sendable {
    public let id: String
    /// The machine's process; a `ProcessChange` replaces it mid-run (the walks drift to their new means).
    public internal(set) var physics: MillingPhysics
    var rng: RandomSource
    var events: RandomSource
    var tools: RandomSource
    var lots: RandomSource
    /// Whether the current tool breaks (tool wear failure) when it reaches its limit, or is changed in time.
    var toolBreaks = false
    /// The wear at which the current tool would fail if nothing changed it before.
    var toolLifetime = 1.0
    var air: Double
    var delta: Double
    var wear = 0.0
    var toolLimit: Double
    var sequence: Int64 = 0
    /// Current setpoints.
    public private(set) var speedSetpoint: Double
    public private(set) var torqueTarget: Double
    let nominalSpeed: Double
    let nominalTorque: Double
    let products: [ProductType]
    let shareTotal: Double
    var downUntil: Int64 = 0
    var downState: MachineState = .running
    /// The current material lot's hardness (a factor on torque) and the parts left in it.
    var lotFactor = 1.0
    var lotRemaining = 0
    /// Planned tool changes so far: by the plant's own rule at the rated wear, or ordered (`changeTool`).
    public private(set) var toolChanges = 0

    init(id: String, seed: UInt64, physics: MillingPhysics, speed: Double, torque: Double, products: [ProductType]) {
        self.id = id
        self.physics = physics
        self.rng = RandomSource(seed: seed)
        self.events = RandomSource(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        self.tools = RandomSource(seed: seed ^ 0xD1B5_4A32_D192_ED03)
        self.lots = RandomSource(seed: seed ^ 0x6A09_E667_F3BC_C908)
        self.nominalSpeed = speed
        self.nominalTorque = torque
        self.speedSetpoint = speed
        self.torqueTarget = torque
        self.products = products.isEmpty ? [ProductType(name: "M", share: 1)] : products
        self.shareTotal = self.products.reduce(0) { $0 + $1.share }
        air = physics.airMean + physics.airSD * rng.normal()
        delta = physics.deltaMean + physics.deltaSD * rng.normal()
        toolLimit = physics.toolLife.rated
        newTool()
        if physics.staggeredTools { wear = (toolLimit * tools.uniform()).rounded() }
        if physics.lotParts > 0 {
            // Machines start somewhere within their first lot.
            newLot()
            lotRemaining = 1 + Int(lots.uniform() * Double(physics.lotParts - 1))
        }
    }

    /// Mounts the next tool: its wear limit and whether it breaks there (tool wear failure) or is changed in time.
    mutating func newTool() {
        wear = 0
        switch physics.toolLife {
        case .uniform(let range, let failureShare):
            toolLimit = range.lowerBound + (range.upperBound - range.lowerBound) * tools.uniform()
            toolBreaks = tools.uniform() < failureShare
            toolLifetime = toolLimit
        case .scattered(let mean, let cv, let rated, let minimum):
            let life = max(minimum, mean * (1 + cv * tools.normal()))
            toolLimit = min(life, rated)
            toolBreaks = life < rated
            toolLifetime = life
        }
    }

    /// Starts the next material lot: its hardness and length.
    mutating func newLot() {
        lotFactor = Double.exp(physics.lotTorqueSD * lots.normal())
        lotRemaining = physics.lotParts
    }

    /// The day's ambient cycle at `now` (ms since the epoch), added to both temperatures as measured.
    func ambient(_ now: Int64) -> Double {
        guard physics.ambientAmplitude != 0 else { return 0 }
        return physics.ambientAmplitude * Double.sin(2 * .pi * Double(now % 86_400_000) / 86_400_000)
    }

    mutating func setSetpoints(speed: Double?, torque: Double?) {
        if let speed { speedSetpoint = speed }
        if let torque { torqueTarget = torque }
    }

    /// Produces the reading at time `now`; returns it with its failure modes and the time of this machine's next one.
    mutating func step(now: Int64) -> (reading: Reading, failure: FailureModes, next: Int64) {
        let p = physics
        // The temperature walks advance once per product, as in the dataset: stepping them during downtime too
        // would bias the products towards temperatures that cause no failures (low-margin periods would be spent down).
        let ambientK = ambient(now)
        var airK = ((air + ambientK) * 10).rounded() / 10
        var processK = ((air + ambientK + delta) * 10).rounded() / 10
        var cycle = p.baseCycleSeconds * Double.pow(nominalSpeed / speedSetpoint, p.cycleSpeedExponent)
        if p.cycleTorqueExponent != 0 { cycle *= Double.pow(nominalTorque / torqueTarget, p.cycleTorqueExponent) }
        sequence += 1
        if now < downUntil {
            let reading = Reading(
                machine: id, timestamp: now, sequence: sequence,
                values: [
                    Measurement("air_temp_k", airK), Measurement("process_temp_k", processK), Measurement("rpm", 0),
                    Measurement("torque_nm", 0), Measurement("tool_wear_min", wear),
                ], product: nil, state: downState, setpoints: setpointValues)
            return (reading, [], min(downUntil, now + Int64(cycle * 1000)))
        }
        air = p.airMean + p.airRho * (air - p.airMean) + p.airSD * (1 - p.airRho * p.airRho).squareRoot() * rng.normal()
        delta =
            p.deltaMean + p.deltaRho * (delta - p.deltaMean) + p.deltaSD * (1 - p.deltaRho * p.deltaRho).squareRoot()
            * rng.normal()
        airK = ((air + ambientK) * 10).rounded() / 10
        processK = ((air + ambientK + delta) * 10).rounded() / 10
        let product = pickProduct()
        var load = torqueTarget * lotFactor
        if p.wornToolTorque > 0 {
            load *= 1 + p.wornToolTorque * Double.pow(min(1, wear / toolLifetime), p.wornToolExponent)
        }
        let torque = ((max(p.torqueFloor, load + p.torqueSD * rng.normal())) * 10).rounded() / 10
        let rpm =
            (speedSetpoint * Double.pow(torque / torqueTarget, p.speedTorqueExponent)
            * Double.exp(p.speedNoise * rng.normal()))
            .rounded()
        let recordedWear = wear
        let power = MillingPhysics.power(torque: torque, rpm: rpm)
        let conditions = failures(
            airK: airK, processK: processK, rpm: rpm, torque: torque, power: power, product: product)
        var failure = conditions.0
        let draws = eventDraws()
        if draws.randomFailure < p.randomFailureProbability { failure.insert(.rnf) }
        var scrapProbability = p.baseScrap
        if recordedWear > 180 { scrapProbability += p.wornToolScrap * min(1, (recordedWear - 180) / 60) }
        if power < p.powerRange.lowerBound + 500 || power > p.powerRange.upperBound - 500 {
            scrapProbability += p.powerEdgeScrap
        }
        let scrap = !failure.isEmpty || draws.scrap < scrapProbability
        wear += p.wearPerProduct[product.name] ?? 3
        let cycleNoise = 1 + p.cycleNoise * rng.normal()
        var next = now + Int64(max(1, cycle * cycleNoise) * 1000)
        stopAfterPart(failure: failure, toolChange: conditions.toolChange, draws: draws, next: next)
        if downUntil > now { next = min(next, downUntil) }
        let reading = Reading(
            machine: id, timestamp: now, sequence: sequence,
            values: [
                Measurement("air_temp_k", airK), Measurement("process_temp_k", processK), Measurement("rpm", rpm),
                Measurement("torque_nm", torque), Measurement("tool_wear_min", recordedWear),
            ], product: product.name, state: .running, good: scrap ? 0 : 1, scrap: scrap ? 1 : 0,
            setpoints: setpointValues)
        return (reading, failure, next)
    }

    /// The product type, drawn by share.
    private mutating func pickProduct() -> ProductType {
        var pick = rng.uniform() * shareTotal
        for candidate in products {
            pick -= candidate.share
            if pick < 0 { return candidate }
        }
        return products[products.count - 1]
    }

    /// The failure modes the part's conditions cause (random failures aside), and whether the tool is due for a
    /// planned change instead of breaking.
    private func failures(
        airK: Double, processK: Double, rpm: Double, torque: Double, power: Double, product: ProductType
    )
        -> (FailureModes, toolChange: Bool)
    {
        let p = physics
        var failure: FailureModes = []
        var toolChange = false
        if wear >= toolLimit {
            if toolBreaks { failure.insert(.twf) } else { toolChange = true }
        }
        if delta(airK, processK) < p.heatDeltaLimit && rpm < p.heatSpeedLimit { failure.insert(.hdf) }
        if !p.powerRange.contains(power) { failure.insert(.pwf) }
        if wear * torque > (p.overstrainLimit[product.name] ?? 12_000) { failure.insert(.osf) }
        return (failure, toolChange)
    }

    /// What every running product draws from the event stream, whatever happens (common random numbers): a random
    /// failure, scrap, the repair's length and, in profiles with short stops, a stop and its length.
    struct EventDraws {
        var randomFailure: Double
        var scrap: Double
        var repairScale: Double
        var minorStopMinutes = 0.0
    }

    private mutating func eventDraws() -> EventDraws {
        let p = physics
        var draws = EventDraws(
            randomFailure: events.uniform(), scrap: events.uniform(), repairScale: 0.5 + events.uniform())
        // Short stops draw only in profiles that have them, so the AI4I profile's streams stay as they were.
        if p.minorStopProbability > 0 {
            let stopDraw = events.uniform()
            let lengthDraw = events.uniform()
            if stopDraw < p.minorStopProbability {
                draws.minorStopMinutes =
                    p.minorStopMinutes.lowerBound + (p.minorStopMinutes.upperBound - p.minorStopMinutes.lowerBound)
                    * lengthDraw
            }
        }
        return draws
    }

    /// Downtime after the part that ends at `next`: a repair or a tool change, then a changeover if the lot ends,
    /// else a short stop.
    private mutating func stopAfterPart(
        failure: FailureModes, toolChange: Bool, draws: EventDraws, next: Int64
    ) {
        let p = physics
        var stopMinutes = 0.0
        if !failure.isEmpty {
            stopMinutes = (failure.names.compactMap { p.repairMinutes[$0] }.max() ?? 30) * draws.repairScale
            downState = .down
            if failure.contains(.twf) { newTool() }  // as in the dataset, only a tool wear failure replaces the tool
        } else if toolChange {
            stopMinutes = p.plannedToolChangeMinutes * draws.repairScale
            downState = .toolChange
            toolChanges += 1
            newTool()
        }
        if p.lotParts > 0 {
            lotRemaining -= 1
            if lotRemaining <= 0 {
                newLot()
                if stopMinutes == 0 { downState = .setup }
                stopMinutes += p.setupMinutes
            }
        }
        if stopMinutes == 0 && draws.minorStopMinutes > 0 {
            stopMinutes = draws.minorStopMinutes
            downState = .idle
        }
        if stopMinutes > 0 { downUntil = next + Int64(stopMinutes * 60_000) }
    }

    /// The setpoints as a reading reports them.
    var setpointValues: [Measurement] { [Measurement("rpm", speedSetpoint), Measurement("torque_nm", torqueTarget)] }

    @inline(__always) private func delta(_ air: Double, _ process: Double) -> Double { process - air }

    /// Forces an immediate planned tool change (a maintenance action).
    mutating func changeTool(now: Int64) {
        newTool()
        toolChanges += 1
        downUntil = max(downUntil, now + Int64(physics.plannedToolChangeMinutes * 60_000))
        downState = .toolChange
    }
}
