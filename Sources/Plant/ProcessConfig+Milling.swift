extension ProcessConfig {
    /// The text of `config/milling.yaml`, built in so the simulator and demo run without files
    /// (a test keeps the two identical).
    public static let millingYAML = """
        # Millstream process configuration: CNC milling, the process of the built-in simulator.
        # The variables and rules follow the AI4I 2020 predictive maintenance dataset (S. Matzka, CC BY 4.0).
        # Any continuous process can be described the same way: name its variables, their valid ranges (min/max: a
        # reading outside is bad data), spec limits (lsl/usl: for capability and alarms) and which ones are setpoints.
        process: milling
        description: CNC milling machines; one reading per machined part.
        site: plant1
        ideal_cycle_s: 48            # fastest cycle per part, for OEE performance
        lines:
          - name: line1
            machines: 25             # plant1/line1/m01 ... m25
          - name: line2
            machines: 25
          - name: line3
            machines: 25
          - name: line4
            machines: 25
        products:                    # product variants and their share of production
          - {name: L, share: 0.6}
          - {name: M, share: 0.3}
          - {name: H, share: 0.1}
        variables:
          air_temp_k:
            unit: K
            description: Air temperature
            column: Air temperature [K]
            min: 250
            max: 350
            lsl: 295
            usl: 305
            spc: false               # the hall's air: it walks with the weather and the day, no process controls it
          process_temp_k:
            unit: K
            description: Process temperature
            column: Process temperature [K]
            min: 250
            max: 380
            lsl: 305
            usl: 315
            spc: false               # the hall's air plus a slowly varying difference: its chart would alarm on the weather
          rpm:
            unit: rpm
            description: Rotational speed of the spindle
            column: Rotational speed [rpm]
            min: 0
            max: 6000                # sensor range; the spindle runs fastest at the lowest torque
            lsl: 1200
            usl: 2900
            spc: {subgroup: 5, rules: [beyond_3_sigma, cusum], baseline: 250, restart_after: [setup]}   # X-bar of 5; limits anew per lot
            controllable: {min: 1200, max: 2800, max_step: 100, min_interval_s: 300, nominal: 1510, variation: relative}
          torque_nm:
            unit: Nm
            description: Torque
            column: Torque [Nm]
            min: 0
            max: 120
            lsl: 10
            usl: 70
            spc: {subgroup: 5, rules: [beyond_3_sigma, cusum], baseline: 250, restart_after: [setup]}   # X-bar of 5; limits anew per lot
            controllable: {min: 20, max: 60, max_step: 5, min_interval_s: 300, nominal: 40}
          tool_wear_min:
            unit: min
            description: Tool wear (minutes of use)
            column: Tool wear [min]
            min: 0
            max: 400
            usl: 240
            spc: false               # a counter: it climbs by design and resets at each tool change
        csv:
          product: Type              # AI4I has no machine or time column: `millstream import --machine ... --start ...`
        features:                    # what models of this process use besides the variables
          derived:
            power_w: torque_nm * rpm * 2 * pi / 60          # power failures outside 3500...9000 W
            temp_diff_k: process_temp_k - air_temp_k         # heat dissipation failures below 8.6 K
            strain_min_nm: tool_wear_min * torque_nm         # overstrain above 11,000-13,000 min Nm by product
          categorical:
            product: [L, M, H]
        optimizer:                   # setpoint recommendations (docs/optimizer.md)
          failure_cost: 45           # one failure costs the parts not made during its repair (about 45 min at 1 part/min)
          throughput:                # the rate of parts rises with spindle speed and feed: rate ~ (rpm / nominal)^0.3
            variable: rpm            #   x (torque / nominal)^0.3 (a lighter cut, at a lower torque, takes longer)
            elasticity: 0.3
            also: {torque_nm: 0.3}
            floor: 0.95              # hard constraint: never below 95 % of the nominal rate (shared between the two)
          maintenance:
            tool_change: {resets: tool_wear_min, to: 0, downtime: 10}   # a planned tool change stops about 10 parts' time
          scenarios: 64              # expected risk over 64 strata of the machine's spread, tails included,
          history: 512               # drawn from its last 512 running parts
          min_gain: 0.02             # change nothing for less than 0.02 parts per part
          closed_loop: false         # recommendations wait for an operator unless true (or `run --closed-loop`)
        alarms:                      # alarm management (docs/alarms.md): one alarm per condition, ISA-18.2 priorities
          machines_per_operator: 20  # the KPIs count alarms per operator
          failure_risk:              # "fails within 30 min" forecast: raised at the limit held for a minute
            limit: 0.2
            deadband: 0.05
            on_delay_s: 60
            off_delay_s: 600
            consequence: major       # a breakdown
            respond_within_min: 15   # -> medium priority
            startup_s: 300
            latched: true
          spc:                       # a shift on a control chart: cleared after 30 quiet minutes, none while a failure
            off_delay_s: 1800        #   warning on the same machine already says what is wrong (first-out)
            consequence: minor
            respond_within_min: 60   # -> low priority
            startup_s: 600
            suppressed_by: [failure_risk]

        """

    /// The built-in milling process configuration.
    public static func milling() -> ProcessConfig {
        // The built-in text is checked by tests; failing here is a programming error.
        try! load(yaml: millingYAML, source: "built-in milling.yaml")
    }
}
