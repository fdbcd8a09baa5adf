/// What `instructrec serve` does on a signal or when the model has loaded: a
/// plain state machine (SwiftNIO style), so each rule is a unit test.
///
///   loading  --SIGINT/SIGTERM-->  exit 0 now (nothing is in flight; a pod deleted
///                                 during start-up must not wait out its grace period)
///   loading  --loaded-->          ready (start serving)
///   ready    --SIGINT/SIGTERM-->  draining (readiness 503, drain delay, finish in-flight, exit 0)
///   draining --SIGINT-->          exit 0 now (a second Ctrl-C does not wait for the drain)
///   draining --SIGTERM-->         nothing (orchestrators repeat SIGTERM; the drain goes on)
public struct ServiceLifecycle: Sendable, Equatable {
    public enum Phase: String, Sendable { case loading, ready, draining, exiting }
    public enum Signal: String, Sendable { case interrupt = "SIGINT", terminate = "SIGTERM" }
    public enum Action: Equatable, Sendable {
        case none
        case startServing
        case drain
        case exitNow(reason: String)
    }

    public private(set) var phase = Phase.loading

    public init() {}

    public mutating func received(_ signal: Signal) -> Action {
        switch (phase, signal) {
        case (.loading, _):
            phase = .exiting
            return .exitNow(reason: "\(signal.rawValue) while the model was loading")
        case (.ready, _):
            phase = .draining
            return .drain
        case (.draining, .interrupt):
            phase = .exiting
            return .exitNow(reason: "second SIGINT while draining")
        case (.draining, .terminate), (.exiting, _):
            return .none
        }
    }

    public mutating func loaded() -> Action {
        guard phase == .loading else { return .none }
        phase = .ready
        return .startServing
    }
}
