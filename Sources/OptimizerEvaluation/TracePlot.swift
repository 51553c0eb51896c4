/// The traced machine of an evaluation as an SVG picture: per-part failure risk, each setpoint, and tool wear over
/// time, under a baseline policy (grey) and with the optimizer (blue); failed parts as red marks.
public enum TracePlot {
    static let grey = "#9a9a9a"
    static let blue = "#1f5fbf"
    static let red = "#d62728"

    public static func svg(
        _ report: ClosedLoopEvaluation.Report, hours: Double, variables: [String: (String, String)] = [:]
    ) -> String {
        var canvas = Canvas(hours: hours, panels: 1 + report.controls.count + 1)
        canvas.header(
            "\(report.traceMachine): first \(Int(hours)) simulated hours, the \(report.baselineName) policy (grey) and the optimizer in closed loop (blue)"
        )
        let b = report.baselineTrace
        let o = report.optimizedTrace
        let riskMax = max(0.02, (smoothed(b).map(\.1) + smoothed(o).map(\.1)).max() ?? 0.05)
        canvas.panel(
            0,
            title:
                "Predicted failure risk per part (mean of 10 parts); red marks: failures, top row \(report.baselineName), lower optimized",
            range: 0...riskMax, series: [(smoothed(b), grey, false), (smoothed(o), blue, false)],
            marks: b.filter(\.failed).map { ($0.hours, red) }, percent: true)
        // Failures of the optimized run, lower in the same panel.
        for p in o where p.failed { canvas.mark(at: p.hours, from: 52, to: 62, color: red) }
        for (c, name) in report.controls.enumerated() {
            let values = b.map { $0.setpoints[c] } + o.map { $0.setpoints[c] }
            let lo = values.min() ?? 0
            let hi = values.max() ?? 1
            let pad = max((hi - lo) * 0.15, abs(hi) * 0.02, 1e-9)
            let words = variables[name]
            canvas.panel(
                1 + c, title: "Setpoint: \(words?.0 ?? name)\(words.map { $0.1.isEmpty ? "" : " (\($0.1))" } ?? "")",
                range: (lo - pad)...(hi + pad),
                series: [
                    (b.map { ($0.hours, $0.setpoints[c]) }, grey, true),
                    (o.map { ($0.hours, $0.setpoints[c]) }, blue, true),
                ])
        }
        let wear = b.compactMap(\.wear) + o.compactMap(\.wear)
        canvas.panel(
            1 + report.controls.count, title: "Tool wear (min): tool changes where it drops",
            range: 0...max(1, (wear.max() ?? 1) * 1.05),
            series: [
                (b.compactMap { p in p.wear.map { (p.hours, $0) } }, grey, false),
                (o.compactMap { p in p.wear.map { (p.hours, $0) } }, blue, false),
            ])
        return canvas.out + "</svg>\n"
    }

    /// Risk as a running mean over 10 parts, so the level shows through the per-part noise.
    static func smoothed(_ t: [ClosedLoopEvaluation.TracePoint]) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        var window: [Double] = []
        for p in t {
            window.append(p.risk)
            if window.count > 10 { window.removeFirst() }
            out.append((p.hours, window.reduce(0, +) / Double(window.count)))
        }
        return out
    }

    /// Panels stacked under each other on a shared time axis (hours).
    struct Canvas {
        let hours: Double
        let width = 960.0
        let left = 70.0
        let right = 20.0
        let panelHeight = 150.0
        let gap = 40.0
        let height: Double
        var out = ""

        init(hours: Double, panels: Int) {
            self.hours = hours
            height = 50 + Double(panels) * (panelHeight + gap)
        }

        mutating func header(_ title: String) {
            out += """
                <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
                viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
                <rect width="100%" height="100%" fill="white"/>
                <text x="\(left)" y="22" font-size="15" font-weight="bold">\(title)</text>

                """
        }

        func x(_ h: Double) -> Double { left + h / hours * (width - left - right) }

        mutating func mark(at h: Double, from y1: Double, to y2: Double, color: String) {
            out +=
                "<line x1=\"\(format2(x(h)))\" x2=\"\(format2(x(h)))\" y1=\"\(y1)\" y2=\"\(y2)\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
        }

        /// One panel: title, frame, value and time ticks, the series (steps for setpoints) and marks at its top.
        mutating func panel(
            _ index: Int, title: String, range: ClosedRange<Double>,
            series: [(points: [(Double, Double)], color: String, step: Bool)],
            marks: [(Double, String)] = [], percent: Bool = false
        ) {
            let top = 40 + Double(index) * (panelHeight + gap)
            let bottom = top + panelHeight
            func y(_ v: Double) -> Double {
                bottom - (min(max(v, range.lowerBound), range.upperBound) - range.lowerBound)
                    / (range.upperBound - range.lowerBound) * panelHeight
            }
            out += "<text x=\"\(left)\" y=\"\(top - 6)\" font-weight=\"bold\">\(title)</text>\n"
            out +=
                "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#999\"/>\n"
            for t in 0...4 {
                let v = range.lowerBound + Double(t) / 4 * (range.upperBound - range.lowerBound)
                let label = percent ? "\(format(v * 100)) %" : format(v)
                out += "<text x=\"\(left - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\" fill=\"#444\">\(label)</text>\n"
                out += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(y(v))\" y2=\"\(y(v))\" stroke=\"#eee\"/>\n"
            }
            let tick = hours > 72 ? 24.0 : hours > 24 ? 6.0 : 2.0
            var h = 0.0
            while h <= hours {
                out +=
                    "<text x=\"\(x(h))\" y=\"\(bottom + 14)\" text-anchor=\"middle\" fill=\"#444\">\(format(h)) h</text>\n"
                h += tick
            }
            for s in series where !s.points.isEmpty {
                var d = ""
                for (i, p) in s.points.enumerated() {
                    if i == 0 {
                        d += "M\(format2(x(p.0))),\(format2(y(p.1)))"
                    } else if s.step {
                        d += "H\(format2(x(p.0)))V\(format2(y(p.1)))"
                    } else {
                        d += "L\(format2(x(p.0))),\(format2(y(p.1)))"
                    }
                }
                if s.step, let last = s.points.last, last.0 < hours { d += "H\(format2(x(hours)))" }
                out += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.3\"/>\n"
            }
            for (h, color) in marks { mark(at: h, from: top, to: top + 10, color: color) }
        }
    }

    static func format(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    static func format2(_ v: Double) -> String { String((v * 10).rounded() / 10) }
}
