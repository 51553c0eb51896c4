import Foundation
import Plant
import Tabular

/// A query's result as CSV or JSON, for `millstream export` and the server's export route.
public enum HistoryExport {
    /// ISO 8601 (UTC) or milliseconds since the epoch.
    public static func parseTime(_ text: String) -> Int64? {
        Int64(text) ?? Timestamp.parse(text)
    }

    /// The header of a CSV export: `time`, then one column per variable (raw), or min, max, mean and count per
    /// variable (buckets).
    public static func csvHeader(_ series: [HistorySeries], raw: Bool) -> String {
        let columns = series.flatMap { s in
            raw ? [s.variable] : ["min", "max", "mean", "count"].map { "\(s.variable)_\($0)" }
        }
        return (["time"] + columns).map(CSVField.escape).joined(separator: ",") + "\n"
    }

    /// One CSV row per time at which any variable has a value (a bucket's start, or a raw value's time); a variable
    /// with no value then is empty.
    public static func csvRows(_ series: [HistorySeries], raw: Bool) -> String {
        var index = [Int](repeating: 0, count: series.count)
        var out = ""
        while true {
            var next = Int64.max
            for (k, s) in series.enumerated() where index[k] < s.times.count { next = min(next, s.times[index[k]]) }
            guard next != .max else { break }
            out += Timestamp.format(next)
            for (k, s) in series.enumerated() {
                let here = index[k] < s.times.count && s.times[index[k]] == next
                let i = index[k]
                if raw {
                    out += here ? ",\(number(s.mean[i]))" : ","
                } else {
                    out += here ? ",\(number(s.min[i])),\(number(s.max[i])),\(number(s.mean[i])),\(s.count[i])" : ",,,,"
                }
                if here { index[k] += 1 }
            }
            out += "\n"
        }
        return out
    }

    public static func csv(_ series: [HistorySeries]) -> String {
        let raw = series.allSatisfy { $0.resolution == 0 }
        return csvHeader(series, raw: raw) + csvRows(series, raw: raw)
    }

    public static func json(_ query: HistoryQuery, _ series: [HistorySeries]) -> String {
        let object: [String: Any] = [
            "machine": query.machine, "from": Timestamp.format(query.from), "to": Timestamp.format(query.to),
            "series": series.map(dictionary),
        ]
        return jsonText(object)
    }

    /// A series as columns: `t` (ISO times), `min`, `max`, `mean`, `count`, with its resolution and source.
    public static func dictionary(_ s: HistorySeries) -> [String: Any] {
        [
            "variable": s.variable, "resolution_ms": s.resolution, "source": s.source,
            "t": s.times.map(Timestamp.format), "min": s.min, "max": s.max, "mean": s.mean, "count": s.count,
        ]
    }

    static let alertColumns = ["time", "machine", "id", "kind", "priority", "status", "variable", "message"]

    public static func csv(_ alerts: [HistoryAlert]) -> String {
        var out = alertColumns.joined(separator: ",") + "\n"
        for a in alerts {
            out +=
                [
                    Timestamp.format(a.millis), a.machine, a.id, a.kind, a.priority ?? "", a.status, a.variable ?? "",
                    a.message ?? "",
                ].map(CSVField.escape).joined(separator: ",") + "\n"
        }
        return out
    }

    public static func json(_ alerts: [HistoryAlert]) -> String {
        "[" + alerts.map(\.record).joined(separator: ",\n") + "]\n"
    }

    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
    }

    static func jsonText(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
