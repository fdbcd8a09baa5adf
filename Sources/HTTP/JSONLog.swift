import Foundation

/// Structured logs: one JSON object per line on standard error, written under
/// a lock so lines from different threads never interleave.
public final class JSONLog: @unchecked Sendable {
    public static let shared = JSONLog()
    private let lock = NSLock()
    /// replaces the output (tests capture lines here)
    public var sink: (@Sendable (String) -> Void)?
    public var enabled = true

    public init() {}

    public func write(_ level: String, _ message: String, _ fields: [String: Any] = [:]) {
        guard enabled else { return }
        var object = fields
        object["ts"] = ISO8601DateFormatter.logFormatter.string(from: Date())
        object["level"] = level
        object["msg"] = message
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        let line = String(decoding: data, as: UTF8.self)
        lock.lock()
        defer { lock.unlock() }
        if let sink { sink(line) } else { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    public func info(_ message: String, _ fields: [String: Any] = [:]) { write("info", message, fields) }
    public func warning(_ message: String, _ fields: [String: Any] = [:]) { write("warning", message, fields) }
    public func error(_ message: String, _ fields: [String: Any] = [:]) { write("error", message, fields) }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let logFormatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
