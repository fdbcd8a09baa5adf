import Configuration

/// How much one scorer call may carry: requests, tokens, and how long a worker
/// may wait for more. Jobs join a batch in queue order while it admits them.
struct BatchLimits: Sendable, Equatable {
    /// requests per scorer call (`max_batch_requests`; 1: no batching)
    var maxRequests = 8
    /// instruction + candidate tokens per call (`max_batch_tokens` × `threads_per_worker`)
    var maxTokens = 4096
    /// the engine's per-call limits on instruction and candidate tokens (its scratch memory guard)
    var maxInstructionTokens = Int.max
    var maxCandidateTokens = Int.max
    /// how long a worker with an unfilled batch waits for more jobs (`batch_wait_ms`; 0: none)
    var waitMilliseconds = 0

    /// Whether a batch of `batch` may take a job of `job` too. An empty batch takes any job,
    /// however large: it runs alone (the engine judges its size on its own).
    func admits(_ job: BatchSize, into batch: BatchSize) -> Bool {
        if batch.requests == 0 { return true }
        let joined = batch + job
        return joined.requests <= maxRequests && joined.tokens <= maxTokens
            && joined.instructionTokens <= maxInstructionTokens && joined.candidateTokens <= maxCandidateTokens
    }

    /// Whether nothing more could join a batch of `batch` (a waiting worker stops waiting).
    func isFull(_ batch: BatchSize) -> Bool {
        batch.requests >= maxRequests || batch.tokens >= maxTokens
    }
}

/// The size of a job or of a batch of jobs.
struct BatchSize: Sendable, Equatable {
    var requests = 0
    /// instruction tokens of every group
    var instructionTokens = 0
    /// title tokens + </s> of every candidate
    var candidateTokens = 0

    var tokens: Int { instructionTokens + candidateTokens }

    static func + (a: BatchSize, b: BatchSize) -> BatchSize {
        BatchSize(requests: a.requests + b.requests, instructionTokens: a.instructionTokens + b.instructionTokens,
                  candidateTokens: a.candidateTokens + b.candidateTokens)
    }
}

extension ServiceConfiguration {
    /// The queue's batch limits from these settings (the service adds the engine's per-call limits).
    /// `max_batch_tokens` bounds one engine pass; a call may carry one pass per worker thread, since a
    /// call that splits evenly runs one pass per thread (the engine's lanes, `T5Scorer+Lanes.swift`).
    var batchLimits: BatchLimits {
        BatchLimits(maxRequests: maxBatchRequests, maxTokens: maxBatchTokens * max(1, threadsPerWorker),
                    waitMilliseconds: batchWaitMilliseconds)
    }
}
