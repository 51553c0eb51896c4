import Foundation

extension SetpointChange {
    /// `{"machine":"plant1/line1/m07","values":{"rpm":1600,"torque_nm":38},"change_tool":false}`, with who made the
    /// change, the recommendation it carries out and when, if given (the setpoints topic's provenance fields).
    public func encoded(by: String? = nil, recommendation: String? = nil, at time: Int64? = nil) -> [UInt8] {
        var out: [UInt8] = Array(#"{"machine":"#.utf8)
        JSONWriter.string(machine, into: &out)
        out.append(contentsOf: #","values":"#.utf8)
        JSONWriter.object(values, into: &out)
        out.append(contentsOf: #","change_tool":"#.utf8)
        out.append(contentsOf: (changeTool ? "true" : "false").utf8)
        for (name, value) in [("by", by), ("recommendation", recommendation)] {
            guard let value else { continue }
            out.append(contentsOf: #","\#(name)":"#.utf8)
            JSONWriter.string(value, into: &out)
        }
        if let time {
            out.append(contentsOf: #","ts":""#.utf8)
            Timestamp.append(time, to: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Decodes a setpoint record; errors name what is wrong.
    public static func decode(_ bytes: [UInt8]) throws -> SetpointChange {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw ConfigError("setpoint record is not a JSON object")
        }
        guard let machine = object["machine"] as? String else { throw ConfigError("setpoint record has no machine") }
        guard let raw = object["values"] as? [String: Any] else {
            throw ConfigError("setpoint record has no values object")
        }
        var values: [Measurement] = []
        for (name, value) in raw.sorted(by: { $0.key < $1.key }) {
            guard let number = value as? NSNumber, String(cString: number.objCType) != "c",
                number.doubleValue.isFinite
            else { throw ConfigError("setpoint \(name) is not a finite number") }
            values.append(Measurement(name, number.doubleValue))
        }
        return SetpointChange(machine: machine, values: values, changeTool: object["change_tool"] as? Bool ?? false)
    }
}
