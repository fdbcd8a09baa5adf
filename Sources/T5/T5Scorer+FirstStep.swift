import Foundation

/// The decoder's first step alone: one row per input (the start token), what pointwise scoring
/// reads. Two things make it far cheaper than the general decoder over the same rows:
///
/// - Self-attention over a single position is the identity on V (a softmax over one key is 1,
///   whatever the position bias), so only the V rows of the self-attention projection are computed.
/// - Cross-attention of one query never needs the encoder's K and V. Per head h,
///   score_i = q_h · (W_k,h e_i) = (W_k,hᵀ q_h) · e_i and Σ_i a_i (W_v,h e_i) = W_v,h (Σ_i a_i e_i),
///   so the query is moved into the encoder's d_model space once (d_kv × d_model) and the
///   attention runs on the normalised encoder rows e_i directly: 4·L·d_model flops per head
///   instead of projecting every encoder row to K and V (4·L·d_model·inner per layer). For a
///   100-document MonoT5-small request that is the difference between ~130 GFLOP and ~1 GFLOP
///   of decoder work, about 14 % of the whole request.
///
/// The results equal the general decoder's within float rounding (`PointwiseBatchTests` compares
/// them against `logits(instruction:candidates:)`).
extension T5Scorer {
    /// Runs the first decoder step for every instruction of `encoder` against the encoder output in
    /// `workspace.encoderNormed` ([ΣL, d_model]). Leaves the final hidden states [G, d_model] (G =
    /// instructions), scaled when the config asks (T5 v1.0), in `workspace.decoderNormed`.
    func runFirstStepDecoder(encoder: EncoderBatch, workspace w: Workspace) {
        let c = weights.config
        let G = encoder.count, d = c.dModel, inner = c.innerDim, heads = c.numHeads, dkv = c.dKV
        let kvWidth = 2 * inner
        let hidden = w.decoderHidden                       // [G, d_model]
        let start = Int(c.decoderStartTokenID)
        for g in 0..<G { weights.embedding.widen(rows: start..<(start + 1), into: hidden.data + g * d) }
        let queryInModel = UnsafeMutablePointer<Float>.allocate(capacity: G * d)   // [G, d_model]  W_k,hᵀ q_h per input
        let contextInModel = UnsafeMutablePointer<Float>.allocate(capacity: G * d) // [G, d_model]  Σ_i a_i e_i per input
        defer { queryInModel.deallocate(); contextInModel.deallocate() }
        let encoderRows = w.encoderNormed.data
        let headScratch = w.weightSlices.data              // [d_kv, d_model]  one head's K or V rows, widened by GEMM when 16-bit

        for (l, layer) in weights.decoderLayers.enumerated() {
            // Self-attention at position 0: context = V.
            rmsNorm(hidden, rows: G, weight: layer.selfNorm, into: w.decoderNormed)
            GEMM.linear(w.decoderNormed.data, rows: G, weight: layer.selfQKV.tile(rows: (2 * inner)..<(3 * inner)),
                        into: w.decoderContext.data, threads: threads, scratch: w.weightSlices)
            GEMM.linear(w.decoderContext.data, rows: G, weight: layer.selfOut, into: hidden.data, accumulate: true,
                        threads: threads, scratch: w.weightSlices)

            // Cross-attention in d_model space.
            rmsNorm(hidden, rows: G, weight: layer.crossNorm, into: w.decoderNormed)
            GEMM.linear(w.decoderNormed.data, rows: G, weight: layer.crossQ, into: w.decoderQuery.data, threads: threads,
                        scratch: w.weightSlices)
            for h in 0..<heads {
                let keyRows = (l * kvWidth + h * dkv)..<(l * kvWidth + (h + 1) * dkv)
                let valueRows = (l * kvWidth + inner + h * dkv)..<(l * kvWidth + inner + (h + 1) * dkv)
                // [G, d_model] = Q_h [G, d_kv] · W_k,h [d_kv, d_model]
                GEMM.multiply(w.decoderQuery.data + h * dkv, rows: G, lda: inner, by: weights.crossKV.tile(rows: keyRows),
                              into: queryInModel, ldy: d, scratch: headScratch)
                Parallel.forEach(G, threads: threads) { range, worker in
                    let scores = w.attentionScores.data + worker * w.scoresPerThread    // [L_g]
                    for g in range {
                        let rows = encoder.length(g), e = encoderRows + encoder.rowStart[g] * d
                        GEMM.multiply(m: 1, n: rows, k: d, a: queryInModel + g * d, lda: d, b: e, ldb: d, bTransposed: true,
                                      c: scores, ldc: rows)
                        var maximum = -Float.infinity
                        for i in 0..<rows { maximum = max(maximum, scores[i]) }
                        var sum: Float = 0
                        for i in 0..<rows { scores[i] = Foundation.exp(scores[i] - maximum); sum += scores[i] }
                        GEMM.multiply(m: 1, n: d, k: rows, a: scores, lda: rows, b: e, ldb: d, bTransposed: false,
                                      c: contextInModel + g * d, ldc: d, alpha: 1 / sum)
                    }
                }
                // [G, d_kv] = C [G, d_model] · W_v,hᵀ, into this head's columns of the context
                GEMM.linear(contextInModel, rows: G, weight: weights.crossKV.tile(rows: valueRows),
                            into: w.decoderContext.data + h * dkv, ldy: inner, scratch: headScratch)
            }
            GEMM.linear(w.decoderContext.data, rows: G, weight: layer.crossOut, into: hidden.data, accumulate: true,
                        threads: threads, scratch: w.weightSlices)

            feedForward(hidden: hidden, rows: G, norm: layer.ffnNorm, wi: layer.ffnIn, wo: layer.ffnOut,
                        normed: w.decoderNormed, ffn: w.decoderFFN, activated: w.decoderActivated, slices: w.weightSlices)
        }
        rmsNorm(hidden, rows: G, weight: weights.decoderFinalNorm, into: w.decoderNormed)
        if c.scaleDecoderOutputs {
            let scale = 1 / Float(d).squareRoot()
            for i in 0..<(G * d) { w.decoderNormed.data[i] *= scale }
        }
    }
}
