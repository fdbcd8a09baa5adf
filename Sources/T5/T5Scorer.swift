import Foundation

/// How per-token log-probabilities become one candidate score.
public enum ScoreReduction: String, Sendable, CaseIterable {
    /// log p(title + </s> | instruction): the InstructRec ranking score
    case sum
    /// the same divided by the number of scored tokens (length-normalised)
    case mean
}

/// The result of scoring one instruction against its candidates.
public struct ScoreResult: Sendable {
    /// one score per candidate, in input order
    public var scores: [Float]
    /// per candidate: log p of each title token, then of </s>
    public var tokenLogProbabilities: [[Float]]
    public var encodeSeconds: Double
    public var decodeSeconds: Double
    /// Decoder rows computed (prefix-tree nodes) and the rows the unshared
    /// packed batch would have computed (candidates × (title tokens + 1)).
    public var decoderRows: Int = 0
    public var candidateRows: Int = 0
}

/// Scores candidates for an instruction with a T5 encoder-decoder by teacher
/// forcing: the instruction is encoded once, every decoder layer's
/// cross-attention K/V is computed once, and all candidates decode as one
/// packed batch.
///
/// A scorer owns its scratch memory and must be used by one thread at a time
/// (it may be handed from thread to thread); give each worker its own scorer
/// over the same shared `T5Weights`.
public final class T5Scorer: @unchecked Sendable {
    public let weights: T5Weights
    public let threads: Int
    /// Upper bound on instruction and total candidate tokens, a guard on scratch memory.
    public var maxEncoderTokens = 8192
    public var maxDecoderTokens = 65536
    /// Share the decoder rows of common title prefixes between candidates
    /// (see `DecoderTree`). Off: every candidate decodes all its own rows,
    /// the old packed batch. Scores agree within float rounding either way.
    public var sharesPrefixes = true
    private var workspace: Workspace?

    /// `threads` of our own run every product and loop of a request; OpenBLAS
    /// should run one thread inside each of them (see `GEMM.linear`): whoever
    /// sets the engine up calls `GEMM.setThreads(1)` once per process.
    public init(weights: T5Weights, threads: Int = 1) {
        self.weights = weights
        self.threads = max(1, threads)
    }

    /// Scores each candidate (title token ids, without </s>) given the
    /// instruction token ids (as the tokenizer produced them, </s> included).
    public func score(instruction: [Int32], candidates: [[Int32]], reduction: ScoreReduction = .sum) throws -> [Float] {
        try run(instruction: instruction, candidates: candidates, reduction: reduction).scores
    }

    public func run(instruction: [Int32], candidates: [[Int32]], reduction: ScoreReduction = .sum) throws -> ScoreResult {
        try validate(instruction: instruction, candidates: candidates)
        if candidates.isEmpty {
            return ScoreResult(scores: [], tokenLogProbabilities: [], encodeSeconds: 0, decodeSeconds: 0)
        }
        let c = weights.config
        let batch = DecoderTree(candidates: candidates, start: c.decoderStartTokenID, eos: c.eosTokenID,
                                sharing: sharesPrefixes)
        let w = workspaceFor(encoderRows: instruction.count, batch: batch)
        let t0 = DispatchTime.now().uptimeNanoseconds
        runEncoder(instruction, workspace: w)
        let t1 = DispatchTime.now().uptimeNanoseconds
        runDecoder(batch, encoderRows: instruction.count, workspace: w)
        let logProbabilities = gatherLogProbabilities(batch, workspace: w)
        let t2 = DispatchTime.now().uptimeNanoseconds
        var perToken: [[Float]] = []
        var scores: [Float] = []
        for (offset, length) in zip(batch.offsets, batch.lengths) {
            let tokens = Array(logProbabilities[offset..<(offset + length)])
            // Sum in double: titles are short, but keep the order of summation out of the result.
            let total = Float(tokens.reduce(0.0) { $0 + Double($1) })
            perToken.append(tokens)
            scores.append(reduction == .sum ? total : total / Float(length))
        }
        return ScoreResult(scores: scores, tokenLogProbabilities: perToken,
                           encodeSeconds: Double(t1 - t0) / 1e9, decodeSeconds: Double(t2 - t1) / 1e9,
                           decoderRows: batch.rows, candidateRows: batch.positions)
    }

    /// Encoder output [L, d_model] after the final RMSNorm (for parity tests and debugging).
    public func encode(_ instruction: [Int32]) throws -> [Float] {
        try validate(instruction: instruction, candidates: [])
        let w = workspaceFor(encoderRows: instruction.count, batch: DecoderTree(candidates: [[]], start: 0, eos: 1, sharing: false))
        runEncoder(instruction, workspace: w)
        return Array(UnsafeBufferPointer(start: w.encoderNormed.data, count: instruction.count * weights.config.dModel))
    }

    /// Full decoder logits, candidate by candidate: [[T_b * vocab]] (for parity tests).
    public func logits(instruction: [Int32], candidates: [[Int32]]) throws -> [[Float]] {
        try validate(instruction: instruction, candidates: candidates)
        let c = weights.config
        let batch = DecoderTree(candidates: candidates, start: c.decoderStartTokenID, eos: c.eosTokenID,
                                sharing: sharesPrefixes)
        let w = workspaceFor(encoderRows: instruction.count, batch: batch)
        runEncoder(instruction, workspace: w)
        runDecoder(batch, encoderRows: instruction.count, workspace: w)
        let full = Tensor(shape: [batch.rows, c.vocabSize])  // [N, vocab], one row per tree node
        GEMM.linear(w.decoderNormed.data, rows: batch.rows, weight: weights.lmHead, into: full.data, threads: threads,
                    scratch: w.weightSlices)
        return zip(batch.offsets, batch.lengths).map { offset, length in
            var rows: [Float] = []
            rows.reserveCapacity(length * c.vocabSize)
            for p in 0..<length {
                let node = batch.nodeOfPosition[offset + p]
                rows.append(contentsOf: UnsafeBufferPointer(start: full.data + node * c.vocabSize, count: c.vocabSize))
            }
            return rows
        }
    }

    private func validate(instruction: [Int32], candidates: [[Int32]]) throws {
        let vocab = weights.config.vocabSize
        guard !instruction.isEmpty else { throw T5Error.invalidInput("instruction has no tokens") }
        guard instruction.count <= maxEncoderTokens else {
            throw T5Error.invalidInput("instruction has \(instruction.count) tokens, more than the limit \(maxEncoderTokens)")
        }
        if let bad = instruction.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
            throw T5Error.invalidInput("instruction token \(bad) is id \(instruction[bad]), outside [0, \(vocab))")
        }
        var total = 0
        for (index, candidate) in candidates.enumerated() {
            total += candidate.count + 1
            if let bad = candidate.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
                throw T5Error.invalidInput("candidate \(index) token \(bad) is id \(candidate[bad]), outside [0, \(vocab))")
            }
        }
        guard total <= maxDecoderTokens else {
            throw T5Error.invalidInput("candidates have \(total) tokens together, more than the limit \(maxDecoderTokens)")
        }
    }

    private func workspaceFor(encoderRows: Int, batch: DecoderTree) -> Workspace {
        if let w = workspace, w.fits(encoderRows: encoderRows, decoderRows: batch.rows, targetLength: batch.longest) {
            return w
        }
        // Grow to the larger of the old and new shape class in every dimension.
        let w = Workspace(config: weights.config, threads: threads,
                          encoderRows: max(encoderRows, workspace?.encoderRows ?? 0),
                          decoderRows: max(batch.rows, workspace?.decoderRows ?? 0),
                          targetLength: max(batch.longest, workspace?.targetLength ?? 0))
        workspace = w
        return w
    }
}
