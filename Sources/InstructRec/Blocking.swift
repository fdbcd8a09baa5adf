import Dispatch

/// Runs async work to its end from synchronous code (the CLI's `score` and `eval` loops, benchmarks):
/// the calling thread waits; the work runs on the cooperative pool, never on the waiting thread.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        guard let result = box.result else { throw CancellationError() }
        return try result.get()
    }

    private final class ResultBox<T>: @unchecked Sendable { var result: Result<T, any Error>? }
}
