import Foundation
import Plant
import Tabular

/// The forms an export takes.
public enum ExportFormat: String, Sendable, CaseIterable {
    case csv, json, parquet

    public var contentType: String {
        switch self {
        case .csv: "text/csv; charset=utf-8"
        case .json: "application/json"
        case .parquet: "application/vnd.apache.parquet"
        }
    }
}

/// A query's result as CSV, JSON or Parquet, for `millstream export` and the server's export route.
public enum HistoryExport {
    public static func file(_ series: [HistorySeries], query: HistoryQuery, format: ExportFormat) -> [UInt8] {
        switch format {
        case .csv: Array(csv(series).utf8)
        case .json: Array(json(query, series).utf8)
        case .parquet: parquet(series)
        }
    }

    public static func file(_ alerts: [HistoryAlert], format: ExportFormat) -> [UInt8] {
        switch format {
        case .csv: Array(csv(alerts).utf8)
        case .json: Array(json(alerts).utf8)
        case .parquet: parquet(alerts)
        }
    }

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

    /// The same table as `csv` as an Apache Parquet file: `time` (timestamp, ms, UTC), then a double per variable
    /// (raw) or min, max, mean (double) and count (int64) per variable; a variable with no value at a time is null.
    public static func parquet(_ series: [HistorySeries]) -> [UInt8] {
        let raw = series.allSatisfy { $0.resolution == 0 }
        let times = Array(Set(series.flatMap(\.times))).sorted()
        let row = Dictionary(uniqueKeysWithValues: times.enumerated().map { ($1, $0) })
        var columns: [ParquetColumn] = [.int64("time", times.map { $0 }, timestampMillis: true)]
        for s in series {
            func spread(_ values: [Double]) -> [Double?] {
                var out = [Double?](repeating: nil, count: times.count)
                for (t, v) in zip(s.times, values) { out[row[t]!] = v }
                return out
            }
            if raw {
                columns.append(.double(s.variable, spread(s.mean)))
            } else {
                var count = [Int64?](repeating: nil, count: times.count)
                for (t, n) in zip(s.times, s.count) { count[row[t]!] = Int64(n) }
                columns += [
                    .double("\(s.variable)_min", spread(s.min)), .double("\(s.variable)_max", spread(s.max)),
                    .double("\(s.variable)_mean", spread(s.mean)), .int64("\(s.variable)_count", count),
                ]
            }
        }
        return ParquetWriter.write(columns)
    }

    /// The alerts as a Parquet file: `time` (timestamp, ms, UTC) and the columns of `csv(_:)` as strings.
    public static func parquet(_ alerts: [HistoryAlert]) -> [UInt8] {
        ParquetWriter.write([
            .int64("time", alerts.map(\.millis), timestampMillis: true), .string("machine", alerts.map(\.machine)),
            .string("id", alerts.map(\.id)), .string("kind", alerts.map(\.kind)),
            .string("priority", alerts.map(\.priority)), .string("status", alerts.map(\.status)),
            .string("variable", alerts.map(\.variable)), .string("message", alerts.map(\.message)),
        ])
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
