import Foundation
import Dispatch
import InstructRec

/// The inference queue as an async scorer: a job's callbacks resume a continuation, so a request's
/// handler awaits its scores instead of answering from a worker's callback.
///
/// Cancellation (the client left, or the request's deadline passed) answers at once: the awaiting
/// task gets `CancellationError` and the job is marked abandoned, so the worker drops it unscored
/// when it reaches it (counted as `client_gone`). Workers keep their own threads and their batching.
extension InferenceQueue: ScoringBackend {
    /// Why the queue did not take the job.
    enum Refusal: Error {
        /// `capacity` jobs wait already: 503 with Retry-After
        case full
        /// stopped (shutdown, or a reload replaced its model): submit to the serving model's queue
        case stopped
    }

    func score(_ groups: [ScoringGroup], deadline: DispatchTime) async throws -> ScoredGroups {
        let state = JobState()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ScoredGroups, any Error>) in
                state.install(continuation)
                let enqueued = DispatchTime.now()
                let job = ScoringJob(
                    groups: groups, deadline: deadline, enqueued: enqueued,
                    isAbandoned: { state.isAbandoned },
                    completed: { answers, taken in
                        state.resume(with: .success(ScoredGroups(answers: answers, queueMilliseconds: milliseconds(enqueued, taken))))
                    },
                    dropped: { reason in
                        state.resume(with: .failure(reason == .deadline ? DeadlinePassed() : CancellationError()))
                    })
                switch submit(job) {
                case .accepted: break
                case .full: state.resume(with: .failure(Refusal.full))
                case .stopped: state.resume(with: .failure(Refusal.stopped))
                }
            }
        } onCancel: {
            state.abandon()
        }
    }

    /// One job's continuation, resumed exactly once (by its worker, a drop, a refusal or a cancellation),
    /// and whether its awaiting task gave up on it.
    private final class JobState: @unchecked Sendable {
        private let lock = NSLock()
        private var continuation: CheckedContinuation<ScoredGroups, any Error>?
        private var pending: Result<ScoredGroups, any Error>?
        private var abandoned = false
        private var resumed = false

        var isAbandoned: Bool { lock.lock(); defer { lock.unlock() }; return abandoned }

        func install(_ continuation: CheckedContinuation<ScoredGroups, any Error>) {
            lock.lock()
            if let pending {   // cancelled before the continuation existed
                resumed = true
                lock.unlock()
                continuation.resume(with: pending)
                return
            }
            self.continuation = continuation
            lock.unlock()
        }

        func resume(with result: Result<ScoredGroups, any Error>) {
            lock.lock()
            guard !resumed else { lock.unlock(); return }
            guard let continuation else { pending = result; lock.unlock(); return }
            resumed = true
            self.continuation = nil
            lock.unlock()
            continuation.resume(with: result)
        }

        func abandon() {
            lock.lock(); abandoned = true; lock.unlock()
            resume(with: .failure(CancellationError()))
        }
    }
}

/// The request's deadline passed while its job waited (the worker dropped it): 504.
struct DeadlinePassed: Error {}
