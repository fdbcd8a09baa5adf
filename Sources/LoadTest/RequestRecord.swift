import Foundation

/// Monotonic seconds since the tool started.
enum Clock {
    static let origin = DispatchTime.now().uptimeNanoseconds
    static var now: Double {
        let start = origin  // initialised on first use: read it before the current time
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
    static func sleep(until time: Double) {
        while true {
            let delay = time - now
            if delay <= 0 { return }
            usleep(useconds_t(min(delay, 1) * 1e6))
        }
    }
}

/// One request the load generator sent and what came of it.
struct RequestRecord: Sendable {
    var start: Double
    var end: Double
    /// HTTP status, or nil when no response arrived.
    var status: Int?
    /// Why no response arrived (LoadTestError.cause), or a protocol problem with one.
    var error: String?
    /// 503 responses must carry Retry-After.
    var hasRetryAfter = false
    /// The model the request asked for (by name, or the default by leaving the name out).
    var model = "default"

    var latency: Double { end - start }
    /// A 200 with a ranking in its body, from the model asked for.
    var succeeded: Bool { status == 200 && error == nil }
    /// "200", "503", or an error cause (a 200 from the wrong model is "wrong_x_model(NAME)"): the key of "failures by cause".
    var outcome: String { error ?? status.map(String.init) ?? "no_response" }
}

/// Records from many threads, appended under a lock.
final class RecordLog: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [RequestRecord] = []

    func append(_ record: RequestRecord) {
        lock.lock(); records.append(record); lock.unlock()
    }

    var all: [RequestRecord] {
        lock.lock(); defer { lock.unlock() }
        return records
    }
}

/// Percentiles and counts over a set of records.
struct LatencySummary {
    let count: Int
    let p50: Double
    let p99: Double
    let max: Double

    init(_ latencies: [Double]) {
        let sorted = latencies.sorted()
        count = sorted.count
        func quantile(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            let rank = Int((Double(sorted.count) * q).rounded(.up)) - 1  // nearest-rank
            return sorted[Swift.min(sorted.count - 1, Swift.max(0, rank))]
        }
        p50 = quantile(0.5)
        p99 = quantile(0.99)
        max = sorted.last ?? .nan
    }

    static func milliseconds(_ seconds: Double) -> String {
        seconds.isNaN ? "-" : String(format: "%.1f ms", seconds * 1000)
    }
}

/// "200: 1234, 503: 12, connection_reset: 1" in a stable order (most frequent first).
func outcomeTable(_ records: [RequestRecord]) -> [(String, Int)] {
    var counts: [String: Int] = [:]
    for record in records { counts[record.outcome, default: 0] += 1 }
    return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
}

/// Records grouped by the model they asked for, in the order given (the models a load names).
func byModel(_ records: [RequestRecord], models: [String]) -> [(model: String, records: [RequestRecord])] {
    models.map { name in (name, records.filter { $0.model == name }) }
}
