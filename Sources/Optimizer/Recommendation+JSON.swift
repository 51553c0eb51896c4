import Plant

extension Recommendation {
    /// The record on the `recommendations` topic; `mode` is "advisory" (waits for an operator) or "closed_loop"
    /// (applied by the worker).
    public func encoded(mode: String) -> [UInt8] {
        var out: [UInt8] = Array(#"{"id":"#.utf8)
        JSONWriter.string(id, into: &out)
        out += Array(#","machine":"#.utf8)
        JSONWriter.string(machine, into: &out)
        out += Array(#","ts":""#.utf8)
        Timestamp.append(timestamp, to: &out)
        out += Array(#"","model":"#.utf8)
        JSONWriter.string(model, into: &out)
        out += Array(#","mode":"#.utf8)
        JSONWriter.string(mode, into: &out)
        out += Array(#","changes":["#.utf8)
        for (i, c) in changes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += Array(#"{"variable":"#.utf8)
            JSONWriter.string(c.variable, into: &out)
            out += Array(#","from":"#.utf8)
            JSONWriter.number(c.from, into: &out)
            out += Array(#","to":"#.utf8)
            JSONWriter.number(c.to, into: &out)
            out += Array(#","unit":"#.utf8)
            JSONWriter.string(c.unit, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out += Array(#"],"maintenance":["#.utf8)
        for (i, m) in maintenance.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.string(m, into: &out)
        }
        out += Array(#"],"risk_before":"#.utf8)
        JSONWriter.number(riskBefore, into: &out)
        out += Array(#","risk_after":"#.utf8)
        JSONWriter.number(riskAfter, into: &out)
        out += Array(#","rate_change":"#.utf8)
        JSONWriter.number(rateChange, into: &out)
        out += Array(#","gain":"#.utf8)
        JSONWriter.number(gain, into: &out)
        out += Array(#","contributions":["#.utf8)
        for (i, c) in contributions.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += Array(#"{"variable":"#.utf8)
            JSONWriter.string(c.variable, into: &out)
            out += Array(#","value":"#.utf8)
            JSONWriter.number(c.value, into: &out)
            out += Array(#","unit":"#.utf8)
            JSONWriter.string(c.unit, into: &out)
            out += Array(#","effect":"#.utf8)
            JSONWriter.number(c.effect, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out += Array(#"],"explanation":"#.utf8)
        JSONWriter.string(explanation, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
