import Foundation
import OPCUA
import OPCUAWire
import Plant
import Synchronization

/// The simulated plant behind an OPC UA server (`demo --source opcua`): each reading's values written to its
/// machine's nodes (string ids `<machine>/<name>` in namespace 2 of the demo's asyncua server), stamped with the
/// reading's time as SourceTimestamp; and the setpoint nodes read back, so that a change the connector's sink wrote
/// there reaches the simulated machine as a machine's controller would take it.
final class OPCUAPlantWriter: Sendable {
    let connection: OPCUAConnection
    /// The variables each node holds, in the server's model's types.
    static let nodes: [(variable: String, name: String, type: OPCUAVariant)] = [
        ("air_temp_k", "AirTemperature", .double(0)), ("process_temp_k", "ProcessTemperature", .double(0)),
        ("rpm", "SpindleSpeed", .float(0)), ("torque_nm", "Torque", .double(0)),
        ("tool_wear_min", "ToolWear", .int32(0)),
    ]
    static let setpoints: [(variable: String, name: String, type: OPCUAVariant)] = [
        ("rpm", "SpeedSetpoint", .float(0)), ("torque_nm", "TorqueSetpoint", .double(0)),
    ]
    private let known = Mutex<[String: [String: Double]]>([:])

    init(endpoint: String) async throws {
        connection = try await OPCUAConnection.connect(
            try OPCUAClientOptions(endpointURL: endpoint, sessionName: "millstream-plant-simulator"))
    }

    static func node(_ machine: String, _ name: String) -> OPCUANodeID { .string("\(machine)/\(name)", ns: 2) }

    /// Writes the readings (one Write request); a machine's first reading also sets its setpoint nodes.
    func write(_ readings: [Reading]) async throws {
        var values: [OPCUAWriteValue] = []
        for r in readings {
            let t = OPCUADateTime.ticks(unixMilliseconds: r.timestamp)
            for (variable, name, type) in Self.nodes {
                if let x = r[variable], let v = type.sameType(x) {
                    values.append(OPCUAWriteValue(Self.node(r.machine, name), v, sourceTimestamp: t))
                }
            }
            values.append(OPCUAWriteValue(Self.node(r.machine, "State"), .string(r.state.rawValue), sourceTimestamp: t))
            values.append(OPCUAWriteValue(Self.node(r.machine, "Product"), .string(r.product), sourceTimestamp: t))
            values.append(OPCUAWriteValue(Self.node(r.machine, "Good"), .uint32(UInt32(r.good)), sourceTimestamp: t))
            values.append(OPCUAWriteValue(Self.node(r.machine, "Scrap"), .uint32(UInt32(r.scrap)), sourceTimestamp: t))
            let first = known.withLock { $0[r.machine] == nil }
            if first {
                var seen: [String: Double] = [:]
                for (variable, name, type) in Self.setpoints {
                    guard let x = r.setpoints.first(where: { $0.name == variable })?.value, let v = type.sameType(x)
                    else { continue }
                    values.append(OPCUAWriteValue(Self.node(r.machine, name), v, sourceTimestamp: t))
                    seen[variable] = x
                }
                known.withLock { $0[r.machine] = seen }
            }
        }
        let results = try await connection.write(values)
        if let (i, bad) = results.enumerated().first(where: { $0.element.isBad }) {
            throw OPCUAError("\(connection.endpoint): writing \(values[i].nodeID) was refused: \(bad)")
        }
    }

    /// The setpoint changes written to the machines' setpoint nodes since the last look.
    func changes() async throws -> [SetpointChange] {
        let machines = known.withLock { Array($0.keys).sorted() }
        guard !machines.isEmpty else { return [] }
        let ids = machines.flatMap { m in Self.setpoints.map { Self.node(m, $0.name) } }
        let values = try await connection.read(ids)
        var out: [SetpointChange] = []
        for (i, machine) in machines.enumerated() {
            var changed: [Plant.Measurement] = []
            for (j, (variable, _, _)) in Self.setpoints.enumerated() {
                guard let x = values[i * Self.setpoints.count + j].value?.number else { continue }
                let before = known.withLock { $0[machine]?[variable] }
                if let before, abs(before - x) > 1e-6 { changed.append(Measurement(variable, x)) }
                known.withLock { $0[machine, default: [:]][variable] = x }
            }
            if !changed.isEmpty { out.append(SetpointChange(machine: machine, values: changed)) }
        }
        return out
    }

    func close() async { await connection.close() }
}
