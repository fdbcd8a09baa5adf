import Dispatch
import Foundation

/// The 504 timer of one request: armed once the job is queued, cancelled as
/// soon as the answer is sent. A cancelled Dispatch timer source leaves the
/// timer heap at once (a cancelled `asyncAfter` work item would stay queued
/// until its deadline), so live timers track requests in flight, not the
/// request rate times `request_timeout_ms`. `live` counts them for /metrics.
final class DeadlineTimer: @unchecked Sendable {
    private let lock = NSLock()
    private var source: DispatchSourceTimer?
    private var finished = false
    private let live: Metrics.Gauge

    init(live: Metrics.Gauge) { self.live = live }

    /// Fires `action` at `deadline` unless cancelled first; does nothing after `cancel`.
    func arm(at deadline: DispatchTime, _ action: @escaping @Sendable () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        guard !finished, source == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: deadline)
        timer.setEventHandler { [self] in
            if release() { action() }
        }
        source = timer
        live.add(1)
        timer.resume()
    }

    /// The answer was sent: the timer goes away now.
    func cancel() { _ = release() }

    /// Ends the timer once; true for the first caller while it was armed.
    private func release() -> Bool {
        lock.lock()
        let timer = finished ? nil : source
        finished = true
        source = nil
        lock.unlock()
        guard let timer else { return false }
        timer.cancel()
        live.add(-1)
        return true
    }
}
