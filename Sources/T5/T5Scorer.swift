import Foundation

/// One instruction group to score: an instruction and its candidates. A
/// batch holds several, possibly from several requests.
public struct ScoringInput: Sendable {
    /// instruction token ids as the tokenizer produced them, </s> included
    public var instruction: [Int32]
    /// title token ids of each candidate, without </s>
    public var candidates: [[Int32]]
    /// nil: score the candidates' titles (teacher forcing). Set: a pointwise input: the instruction is
    /// one candidate's own input (`candidates` is ignored), and the answer is the logits of these
    /// vocabulary ids at the first decoder step (`ScoreResult.logits`); only these rows of the
    /// vocabulary projection are computed (2 of 32,128 for a yes/no model).
    public var readout: [Int32]?

    public init(instruction: [Int32], candidates: [[Int32]]) {
        self.instruction = instruction
        self.candidates = candidates
        self.readout = nil
    }

    /// A pointwise input (see `readout`).
    public init(instruction: [Int32], readout: [Int32]) {
        self.instruction = instruction
        self.candidates = []
        self.readout = readout
    }

    var isPointwise: Bool { readout != nil }
}

/// The result of scoring one instruction against its candidates: what the model said, per token.
/// How tokens become a candidate's score is the caller's (InstructRec's reductions); `sums` and
/// `means` are views for callers that want the plain reductions (tests, benchmarks).
public struct ScoreResult: Sendable {
    /// per candidate, in input order: log p of each title token, then of </s>
    public var tokenLogProbabilities: [[Float]]
    /// a pointwise input: the logits of its readout ids at the first decoder step, in the readout's order
    public var logits: [Float] = []
    /// log p(title + </s> | instruction) per candidate, summed in double (the order of summation stays out of it)
    public var sums: [Float] { tokenLogProbabilities.map { Float($0.reduce(0.0) { $0 + Double($1) }) } }
    /// the same divided by the number of scored tokens
    public var means: [Float] { tokenLogProbabilities.map { Float($0.reduce(0.0) { $0 + Double($1) } / Double(max(1, $0.count))) } }
    /// Wall time of the encoder and decoder passes this input ran in; in a
    /// batch these are the whole batch's (every input waited for all of it).
    public var encodeSeconds: Double
    public var decodeSeconds: Double
    /// Decoder rows computed (prefix-tree nodes) and the rows the unshared
    /// packed batch would have computed (candidates × (title tokens + 1)).
    public var decoderRows: Int = 0
    public var candidateRows: Int = 0
    /// Inputs scored in the same pass, this one included (1 when alone or
    /// when it had no candidates).
    public var batchInputs: Int = 1
}

/// Scores candidates for an instruction with a T5 encoder-decoder by teacher
/// forcing: the instruction is encoded once, every decoder layer's
/// cross-attention K/V is computed once, and all candidates decode as one
/// packed batch.
///
/// Several instructions (groups, possibly from several requests) score in
/// one pass with `run(batch:)`: their encoders run as one ragged batch (the
/// linear layers over all instructions' rows, attention within each
/// instruction) and their decoders as one packed batch (prefix trees per
/// group, cross-attention to the group's own instruction). Each input's
/// scores equal those of scoring it alone, within float rounding; a single
/// `run(instruction:candidates:)` is the batch of one.
///
/// A scorer owns its scratch memory and must be used by one thread at a time
/// (it may be handed from thread to thread); give each worker its own scorer
/// over the same shared `T5Weights`.
public final class T5Scorer: @unchecked Sendable {
    public let weights: T5Weights
    public let threads: Int
    /// Token limits, pass size, prefix sharing and lanes (see `Options`).
    public var options: Options
    /// instructions' cross K/V already computed, shared by every scorer of the same weights (nil: none)
    public var contextCache: ContextCache?
    /// per-phase wall time of likelihood passes (benchmarks; nil: not timed)
    public var phaseClock: PhaseClock?
    private var workspace: Workspace?
    /// Single-threaded scorers over the same weights, one per thread, made on first use.
    private var lanePool: [T5Scorer] = []

    /// `threads` of our own run every product and loop of a request; OpenBLAS
    /// should run one thread inside each of them (see `GEMM.linear`): whoever
    /// sets the engine up calls `GEMM.setThreads(1)` once per process.
    public init(weights: T5Weights, threads: Int = 1, options: Options = Options()) {
        self.weights = weights
        self.threads = max(1, threads)
        self.options = options
    }

    /// log p(title + </s> | instruction) of each candidate (title token ids, without </s>) given the
    /// instruction token ids (as the tokenizer produced them, </s> included).
    public func score(instruction: [Int32], candidates: [[Int32]]) throws -> [Float] {
        try run(instruction: instruction, candidates: candidates).sums
    }

    /// One input alone: the batch of one.
    public func run(instruction: [Int32], candidates: [[Int32]]) throws -> ScoreResult {
        try run(batch: [ScoringInput(instruction: instruction, candidates: candidates)])[0].get()
    }

    /// Scores several inputs in one pass; one result per input, in order.
    ///
    /// Each input is validated on its own: a bad one gets its
    /// `T5Error.invalidInput` and is left out of the pass, the others are
    /// scored as if it had not been there. An input without candidates
    /// succeeds with no scores and is left out too.
    public func run(batch inputs: [ScoringInput]) -> [Result<ScoreResult, T5Error>] {
        var results: [Result<ScoreResult, T5Error>] = inputs.map { input in
            if let error = invalidity(instruction: input.instruction, candidates: input.candidates) { return .failure(error) }
            if let readout = input.readout, let error = invalidity(readout: readout) { return .failure(error) }
            return .success(ScoreResult(tokenLogProbabilities: [], encodeSeconds: 0, decodeSeconds: 0))
        }
        let scored = inputs.indices.filter { i in
            if case .success = results[i] { return inputs[i].isPointwise || !inputs[i].candidates.isEmpty }
            return false
        }
        if options.splitsAcrossThreads, threads > 1,
           let lanes = Self.lanes(costs: scored.map { Self.passTokens(inputs[$0]) }, lanes: threads) {
            runLanes(lanes.map { $0.map { scored[$0] } }, inputs: inputs, into: &results)
            return results
        }
        for pass in passes(scored, inputs: inputs) {
            runPass(pass, inputs: inputs, into: &results)
        }
        return results
    }

    /// The first `count` lane scorers, each with this scorer's settings now.
    func laneScorers(_ count: Int) -> [T5Scorer] {
        while lanePool.count < count { lanePool.append(T5Scorer(weights: weights, threads: 1)) }
        for lane in lanePool {
            lane.options = options
            lane.options.splitsAcrossThreads = false
            lane.contextCache = contextCache
        }
        return Array(lanePool.prefix(count))
    }

    /// Tokens one input puts through a pass: its instruction rows plus its
    /// candidates' target tokens (+ </s> each).
    private static func passTokens(_ input: ScoringInput) -> Int {
        if input.isPointwise { return input.instruction.count + 1 }
        return input.instruction.count + input.candidates.reduce(0) { $0 + $1.count + 1 }
    }

    /// Splits the inputs to score into passes of at most `options.maxPassTokens`
    /// tokens, in order; an input larger than that runs alone. Scratch memory
    /// grows with a pass's totals, so this bound, not the caller, keeps it
    /// finite: one request with a hundred instruction groups scores in
    /// several passes instead of one huge one.
    private func passes(_ scored: [Int], inputs: [ScoringInput]) -> [[Int]] {
        var passes: [[Int]] = [], current: [Int] = [], tokens = 0
        for i in scored {
            let n = Self.passTokens(inputs[i])
            // A pass is all pointwise or all teacher-forced: they read the decoder out differently.
            let kindChanges = current.last.map { inputs[$0].isPointwise != inputs[i].isPointwise } ?? false
            if !current.isEmpty && (tokens + n > options.maxPassTokens || kindChanges) {
                passes.append(current)
                current = []
                tokens = 0
            }
            current.append(i)
            tokens += n
        }
        if !current.isEmpty { passes.append(current) }
        return passes
    }

    /// Sizes the scratch memory for a full pass of `options.maxPassTokens` now, so a
    /// server's resident memory is what it will be under load from the start
    /// (a batching worker reaches full passes under load; growing then would
    /// look like a leak and could fail late). Larger single inputs still grow it.
    public func reservePass() {
        let tokens = max(1, options.maxPassTokens)
        _ = workspaceFor(encoderRows: tokens, instructionLength: min(tokens, 512), decoderRows: tokens, targetLength: 64)
        if options.splitsAcrossThreads && threads > 1 {
            for lane in laneScorers(threads) { lane.reservePass() }
        }
    }

    /// One engine pass over the inputs `scored` (indices into `inputs`): one
    /// ragged encoder batch, one packed decoder tree, results written in place.
    private func runPass(_ scored: [Int], inputs: [ScoringInput], into results: inout [Result<ScoreResult, T5Error>]) {
        if let first = scored.first, inputs[first].isPointwise {
            runPointwisePass(scored, inputs: inputs, into: &results)
            return
        }
        let c = weights.config
        let instructions = scored.map { inputs[$0].instruction }
        let encoder = EncoderBatch(instructions: instructions)
        let tree = DecoderTree(groups: scored.map { inputs[$0].candidates }, start: c.decoderStartTokenID,
                               eos: c.eosTokenID, sharing: options.sharesPrefixes)
        let w = workspaceFor(encoder: encoder, tree: tree)
        let t0 = DispatchTime.now().uptimeNanoseconds
        phaseClock?.start()
        // With a context cache, only the instructions it lacks are encoded; the others' K/V are copied in.
        let contexts = contextCache.map { ContextPlan(cache: $0, instructions: instructions, config: c) }
        defer { contexts?.finish() }
        if let contexts {
            if contexts.missing.rows > 0 { runEncoder(contexts.missing, workspace: w) }
        } else {
            runEncoder(encoder, workspace: w)
        }
        let t1 = DispatchTime.now().uptimeNanoseconds
        phaseClock?.mark(.encoder)
        runDecoder(tree, encoder: encoder, workspace: w, contexts: contexts)
        let logProbabilities = gatherLogProbabilities(tree, workspace: w)   // [P], all groups' positions
        phaseClock?.mark(.vocabulary)
        let t2 = DispatchTime.now().uptimeNanoseconds
        for (g, i) in scored.enumerated() {
            let candidates = tree.groupCandidateStart[g]..<tree.groupCandidateStart[g + 1]
            let perToken = candidates.map { b in Array(logProbabilities[tree.offsets[b]..<(tree.offsets[b] + tree.lengths[b])]) }
            results[i] = .success(ScoreResult(
                tokenLogProbabilities: perToken,
                encodeSeconds: Double(t1 - t0) / 1e9, decodeSeconds: Double(t2 - t1) / 1e9,
                decoderRows: tree.groupRowStart[g + 1] - tree.groupRowStart[g],
                candidateRows: candidates.reduce(0) { $0 + tree.lengths[$1] },
                batchInputs: scored.count))
        }
    }

    /// Encoder output [L, d_model] after the final RMSNorm (for parity tests and debugging).
    public func encode(_ instruction: [Int32]) throws -> [Float] {
        try validate(instruction: instruction, candidates: [])
        let encoder = EncoderBatch(instructions: [instruction])
        let w = workspaceFor(encoder: encoder, tree: DecoderTree(candidates: [[]], start: 0, eos: 1, sharing: false))
        runEncoder(encoder, workspace: w)
        return Array(UnsafeBufferPointer(start: w.encoderNormed.data, count: instruction.count * weights.config.dModel))
    }

    /// Full decoder logits, candidate by candidate: [[T_b * vocab]] (for parity tests).
    public func logits(instruction: [Int32], candidates: [[Int32]]) throws -> [[Float]] {
        try validate(instruction: instruction, candidates: candidates)
        let c = weights.config
        let batch = DecoderTree(candidates: candidates, start: c.decoderStartTokenID, eos: c.eosTokenID,
                                sharing: options.sharesPrefixes)
        let encoder = EncoderBatch(instructions: [instruction])
        let w = workspaceFor(encoder: encoder, tree: batch)
        runEncoder(encoder, workspace: w)
        runDecoder(batch, encoder: encoder, workspace: w)
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

    /// What is wrong with a pointwise readout, or nil.
    private func invalidity(readout: [Int32]) -> T5Error? {
        guard !readout.isEmpty else { return T5Error.invalidInput("a pointwise input needs at least one readout id") }
        if let bad = readout.first(where: { $0 < 0 || Int($0) >= weights.config.vocabSize }) {
            return T5Error.invalidInput("readout id \(bad) is outside [0, \(weights.config.vocabSize))")
        }
        return nil
    }

    private func validate(instruction: [Int32], candidates: [[Int32]]) throws {
        if let error = invalidity(instruction: instruction, candidates: candidates) { throw error }
    }

    /// What is wrong with one input, or nil when it can be scored.
    private func invalidity(instruction: [Int32], candidates: [[Int32]]) -> T5Error? {
        let vocab = weights.config.vocabSize
        guard !instruction.isEmpty else { return T5Error.invalidInput("instruction has no tokens") }
        guard instruction.count <= options.maxEncoderTokens else {
            return T5Error.invalidInput("instruction has \(instruction.count) tokens, more than the limit \(options.maxEncoderTokens)")
        }
        if let bad = instruction.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
            return T5Error.invalidInput("instruction token \(bad) is id \(instruction[bad]), outside [0, \(vocab))")
        }
        var total = 0
        for (index, candidate) in candidates.enumerated() {
            total += candidate.count + 1
            if let bad = candidate.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
                return T5Error.invalidInput("candidate \(index) token \(bad) is id \(candidate[bad]), outside [0, \(vocab))")
            }
        }
        guard total <= options.maxDecoderTokens else {
            return T5Error.invalidInput("candidates have \(total) tokens together, more than the limit \(options.maxDecoderTokens)")
        }
        return nil
    }

    func workspaceFor(encoder: EncoderBatch, tree: DecoderTree) -> Workspace {
        workspaceFor(encoderRows: encoder.rows, instructionLength: encoder.longest,
                     decoderRows: tree.rows, targetLength: tree.longest)
    }

    /// The workspace, grown when needed to the larger of the old and new shape class in every dimension.
    private func workspaceFor(encoderRows: Int, instructionLength: Int, decoderRows: Int, targetLength: Int) -> Workspace {
        if let w = workspace, w.fits(encoderRows: encoderRows, instructionLength: instructionLength,
                                     decoderRows: decoderRows, targetLength: targetLength) {
            return w
        }
        let w = Workspace(config: weights.config, threads: threads,
                          encoderRows: max(encoderRows, workspace?.encoderRows ?? 0),
                          instructionLength: max(instructionLength, workspace?.instructionLength ?? 0),
                          decoderRows: max(decoderRows, workspace?.decoderRows ?? 0),
                          targetLength: max(targetLength, workspace?.targetLength ?? 0))
        workspace = w
        return w
    }
}
