import Dispatch

/// Where a scorer's passes spend their time, phase by phase (off unless a benchmark sets one on the scorer):
/// the phases of one likelihood pass, in order. Reading the clock costs tens of nanoseconds a phase; the
/// totals are wall time on the calling thread, so a phase that splits its work over threads counts once.
public final class PhaseClock: @unchecked Sendable {
    public enum Phase: String, CaseIterable, Sendable {
        case encoder = "encoder (all layers)"
        case crossKV = "cross-attention K/V"
        case selfAttention = "decoder self-attention (norm, qkv, attention, o)"
        case crossAttention = "decoder cross-attention (norm, q, attention, o)"
        case feedForward = "decoder feed-forward (norm, wi, activation, wo)"
        case vocabulary = "vocabulary projection + log-sum-exp"
    }

    public private(set) var seconds: [Phase: Double] = [:]
    private var last: UInt64 = 0

    public init() {}

    public func reset() { seconds = [:] }

    /// Starts timing (the first phase begins now).
    func start() { last = DispatchTime.now().uptimeNanoseconds }

    /// The phase that just ended: the time since the last mark is added to it.
    func mark(_ phase: Phase) {
        let now = DispatchTime.now().uptimeNanoseconds
        seconds[phase, default: 0] += Double(now &- last) / 1e9
        last = now
    }
}
