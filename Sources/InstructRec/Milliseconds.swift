import Dispatch

/// Milliseconds between two instants (the pipeline's stage timings, the service's latencies).
public func milliseconds(_ from: DispatchTime, _ to: DispatchTime) -> Double {
    Double(to.uptimeNanoseconds &- from.uptimeNanoseconds) / 1e6
}
