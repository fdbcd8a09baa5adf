/// Scratch memory for one forward pass, allocated per shape class and reused
/// across layers and requests.
///
/// A pass scores a batch of one or more instructions: the encoder rows of all
/// instructions (ΣL) and the decoder rows of all their prefix trees (N) are
/// packed one after another, so the buffers are sized by those totals, and
/// the per-attention scratch by the longest instruction (Lmax) and candidate (T).
///
/// Capacities round up to powers of two (at least 64), so a stream of batches
/// with similar sizes allocates once; a larger batch grows the workspace to
/// its class and it stays there. One workspace belongs to one scorer (one worker).
final class Workspace {
    let encoderRows: Int        // capacity for ΣL, the instructions' tokens together
    let instructionLength: Int  // capacity for Lmax, the longest instruction
    let decoderRows: Int        // capacity for N, prefix-tree nodes of all groups (at most all candidates' target tokens together)
    let targetLength: Int       // capacity for T, the longest candidate (+ </s>)
    static let logitChunkRows = 512      // lm_head tile: rows (tree nodes)
    static let logitChunkColumns = 512   // lm_head tile: vocabulary columns ([512, 512] floats = 1 MiB)
    static let attentionBlockRows = 64   // queries per attention block
    let scoresPerThread: Int    // attentionBlockRows * max(Lmax, T)

    // Encoder, ΣL = all instructions' tokens; instruction g is rows rowStart[g]..<rowStart[g+1] (EncoderBatch)
    let encoderHidden: Tensor   // [ΣL, d_model]   residual stream
    let encoderNormed: Tensor   // [ΣL, d_model]
    let encoderQKV: Tensor      // [ΣL, 3*inner]
    let encoderContext: Tensor  // [ΣL, inner]     attention output before o-projection
    let encoderFFN: Tensor      // [ΣL, ffRows]    wi output (both halves when gated)
    let encoderActivated: Tensor // [ΣL, d_ff]
    let encoderBias: Tensor     // [heads, 2Lmax-1]  bias by relative position k-q, index k-q+Lmax-1 (serves every instruction)
    let crossKV: Tensor         // [ΣL, 2*inner]  the current decoder layer's cross K|V
    /// [ΣL, 2*inner]  with a context cache: the current layer's K|V of the instructions it lacked, before they
    /// are laid out in `crossKV` (made on first use: scorers without a cache never hold it)
    lazy var computedKV = Tensor(shape: [encoderRows, 2 * crossKVWidth])
    private let crossKVWidth: Int

    // Attention, shared by both stacks
    let attentionScores: Tensor // [threads, attentionBlockRows, max(Lmax, T)]  one block of one head's scores per thread
    let softmaxSums: Tensor     // [threads, attentionBlockRows]  1/sum of each block row's exponentials

    // Decoder, N = nodes of every group's prefix tree; group g is rows groupRowStart[g]..<groupRowStart[g+1] (DecoderTree)
    let decoderHidden: Tensor   // [N, d_model]
    let decoderNormed: Tensor   // [N, d_model]
    let decoderQKV: Tensor      // [N, 3*inner]
    let decoderContext: Tensor  // [N, inner]
    let decoderQuery: Tensor    // [N, inner]     cross-attention queries
    let decoderFFN: Tensor      // [N, ffRows]
    let decoderActivated: Tensor // [N, d_ff]
    let pathKV: Tensor          // [threads, T, 2*inner]  one candidate's path K|V, gathered when its rows are not contiguous
    let decoderBias: Tensor     // [heads, 2T-1]  causal bias by k-q; -inf where k > q
    let logits: Tensor          // [threads, 128, 512]  lm_head output, one tile per thread
    let logitMax: Tensor        // [threads, N]  running max of each node's logits over a thread's column tiles
    let logitSum: Tensor        // [threads, N]  running sum of exp(logit - max)

    // Weights
    let weightSlices: Tensor    // [threads, WeightMatrix.scratchFloats(max(d_model, inner, d_ff))]  a 16-bit weight slice widened to F32

    static func capacity(_ n: Int) -> Int {
        var c = 64
        while c < n { c *= 2 }
        return c
    }

    func fits(encoderRows l: Int, instructionLength lmax: Int, decoderRows n: Int, targetLength t: Int) -> Bool {
        l <= encoderRows && lmax <= instructionLength && n <= decoderRows && t <= targetLength
    }

    init(config c: T5Config, threads: Int, encoderRows l: Int, instructionLength lmax: Int, decoderRows n: Int, targetLength t: Int) {
        encoderRows = Workspace.capacity(l)
        instructionLength = Workspace.capacity(lmax)
        decoderRows = Workspace.capacity(n)
        targetLength = Workspace.capacity(t)
        let L = encoderRows, Lmax = instructionLength, N = decoderRows, T = targetLength
        let d = c.dModel, inner = c.innerDim, ff = c.dFF, ffRows = c.isGatedActivation ? 2 * ff : ff
        encoderHidden = Tensor(shape: [L, d])
        encoderNormed = Tensor(shape: [L, d])
        encoderQKV = Tensor(shape: [L, 3 * inner])
        encoderContext = Tensor(shape: [L, inner])
        encoderFFN = Tensor(shape: [L, ffRows])
        encoderActivated = Tensor(shape: [L, ff])
        encoderBias = Tensor(shape: [c.numHeads, 2 * Lmax - 1])
        crossKV = Tensor(shape: [L, 2 * inner])
        crossKVWidth = inner
        decoderHidden = Tensor(shape: [N, d])
        decoderNormed = Tensor(shape: [N, d])
        decoderQKV = Tensor(shape: [N, 3 * inner])
        decoderContext = Tensor(shape: [N, inner])
        decoderQuery = Tensor(shape: [N, inner])
        decoderFFN = Tensor(shape: [N, ffRows])
        decoderActivated = Tensor(shape: [N, ff])
        pathKV = Tensor(shape: [threads, T, 2 * inner])
        scoresPerThread = Workspace.attentionBlockRows * max(Lmax, T)
        attentionScores = Tensor(shape: [threads, Workspace.attentionBlockRows, max(Lmax, T)])
        softmaxSums = Tensor(shape: [threads, Workspace.attentionBlockRows])
        decoderBias = Tensor(shape: [c.numHeads, 2 * T - 1])
        logits = Tensor(shape: [threads, Workspace.logitChunkRows, Workspace.logitChunkColumns])
        logitMax = Tensor(shape: [threads, N])
        logitSum = Tensor(shape: [threads, N])
        // Not zeroed: untouched (not resident) when the weights are F32.
        weightSlices = Tensor(shape: [threads, WeightMatrix.scratchFloats(maxColumns: max(d, inner, ff))], zeroed: false)
    }
}
