import Dispatch

/// A request's deadline as a race: the work against a sleep until the deadline. Whichever ends first
/// wins and the other is cancelled, so a 504 is answered on time even while the job still waits in
/// the queue (its cancellation marks the job abandoned; the worker drops it unscored).
enum Deadline {
    /// `operation`'s value, or `DeadlinePassed` once `deadline` passes first. `live` counts the races running
    /// (instructrec_deadline_timers: one per request awaiting its answer).
    static func race<T: Sendable>(_ deadline: DispatchTime, live: Metrics.Gauge? = nil,
                                  _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        live?.add(1)
        defer { live?.add(-1) }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                let now = DispatchTime.now().uptimeNanoseconds
                if deadline.uptimeNanoseconds > now { try await Task.sleep(nanoseconds: deadline.uptimeNanoseconds - now) }
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw DeadlinePassed() }
            return value
        }
    }
}
