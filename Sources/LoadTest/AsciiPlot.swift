import Foundation

/// A small line chart in text: one column per time bucket, `height` rows,
/// the y range labelled on the left.
enum AsciiPlot {
    static func render(_ values: [Double], title: String, unit: String, height: Int = 8, width: Int = 72,
                       marks: [(at: Int, symbol: Character)] = []) -> String {
        let finite = values.filter { $0.isFinite }
        guard let low = finite.min(), let high = finite.max(), !values.isEmpty else { return "\(title): no data\n" }
        // Average the series into at most `width` columns.
        let columns = min(width, values.count)
        var buckets = [Double](repeating: .nan, count: columns)
        for column in 0..<columns {
            let slice = values[(column * values.count / columns)..<max(column * values.count / columns + 1, (column + 1) * values.count / columns)]
                .filter { $0.isFinite }
            if !slice.isEmpty { buckets[column] = slice.reduce(0, +) / Double(slice.count) }
        }
        let span = high - low > 0 ? high - low : max(abs(high), 1) * 0.1
        var rows = [[Character]](repeating: [Character](repeating: " ", count: columns), count: height)
        for (column, value) in buckets.enumerated() where value.isFinite {
            let level = Int(((value - low) / span * Double(height - 1)).rounded())
            rows[height - 1 - min(height - 1, max(0, level))][column] = "*"
        }
        var out = "\(title)\n"
        for (index, row) in rows.enumerated() {
            let label: String
            if index == 0 { label = format(low + span, unit) }
            else if index == height - 1 { label = format(low, unit) }
            else { label = "" }
            out += label.leftPadded(to: 11) + " |" + String(row) + "\n"
        }
        var axis = [Character](repeating: "-", count: columns)
        for mark in marks {
            let column = min(columns - 1, max(0, mark.at * columns / max(values.count, 1)))
            axis[column] = mark.symbol
        }
        out += String(repeating: " ", count: 11) + " +" + String(axis) + "\n"
        out += String(repeating: " ", count: 13) + "0 s" + "\(values.count) s".leftPadded(to: max(0, columns - 3)) + "\n"
        return out
    }

    private static func format(_ value: Double, _ unit: String) -> String {
        value >= 100 ? String(format: "%.0f %@", value, unit) : String(format: "%.1f %@", value, unit)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
