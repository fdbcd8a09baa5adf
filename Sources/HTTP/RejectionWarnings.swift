/// The warnings about connections refused at the limit: at most one line per `interval`
/// seconds, each with how many were refused since the line before, by reason. (One line
/// per refusal drowned the log: 6,000 idle connections held against the limit wrote
/// thousands of identical lines, and said less than one line with a count.) Pure: the
/// server feeds it refusals and the sweeper's ticks and writes the lines it returns.
struct RejectionWarnings {
    let interval: Double
    private var lastLineAt: Double?
    /// refusals since the last line, by reason
    private var pending: [String: Int] = [:]

    init(interval: Double = 1) {
        self.interval = interval
    }

    /// A refusal at `now` (monotonic seconds): the counts for a line to write now, or nil while the
    /// last line is younger than `interval` (they wait for a later refusal or `due`).
    mutating func rejected(_ reason: String, now: Double) -> [String: Int]? {
        pending[reason, default: 0] += 1
        return due(now: now)
    }

    /// The refusals held back, once `interval` has passed since the last line (the sweeper asks
    /// every quarter second, so a burst's tail is written within about a second of it).
    mutating func due(now: Double) -> [String: Int]? {
        guard !pending.isEmpty else { return nil }
        if let lastLineAt, now - lastLineAt < interval { return nil }
        lastLineAt = now
        defer { pending = [:] }
        return pending
    }
}
