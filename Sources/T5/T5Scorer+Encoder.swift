extension T5Scorer {
    /// Runs the encoder over one instruction; the result [L, d_model] is left
    /// in `workspace.encoderNormed` (after the final RMSNorm).
    func runEncoder(_ ids: [Int32], workspace w: Workspace) {
        let c = weights.config
        let L = ids.count, d = c.dModel, inner = c.innerDim, heads = c.numHeads
        let hidden = w.encoderHidden                 // [L, d_model]
        for (row, id) in ids.enumerated() {
            weights.embedding.widen(rows: Int(id)..<(Int(id) + 1), into: hidden.data + row * d)
        }
        // bias[h, r + L - 1] for relative position r = k - q in [-(L-1), L-1], bidirectional buckets
        let biasWidth = 2 * L - 1
        for r in -(L - 1)...(L - 1) {
            let bucket = RelativePositionBias.bucket(relative: r, bidirectional: true,
                                                     numBuckets: c.relativeAttentionNumBuckets,
                                                     maxDistance: c.relativeAttentionMaxDistance)
            for h in 0..<heads {
                w.encoderBias.data[h * biasWidth + r + L - 1] = weights.encoderRelativeBias.data[bucket * heads + h]
            }
        }
        for layer in weights.encoderLayers {
            rmsNorm(hidden, rows: L, weight: layer.attentionNorm, into: w.encoderNormed)
            GEMM.linear(w.encoderNormed.data, rows: L, weight: layer.qkv, into: w.encoderQKV.data, threads: threads,
                        scratch: w.weightSlices)
            let qkv = w.encoderQKV.data, ld = 3 * inner
            Parallel.forEach(heads, threads: threads) { range, worker in
                for h in range {
                    attentionHead(queries: L, keys: L,
                                  q: qkv + h * c.dKV, ldq: ld,
                                  k: qkv + inner + h * c.dKV, v: qkv + 2 * inner + h * c.dKV, ldkv: ld,
                                  bias: w.encoderBias.data + h * biasWidth, biasOrigin: L - 1,
                                  scores: w.attentionScores.data + worker * w.scoresPerThread,
                                  sums: w.softmaxSums.data + worker * Workspace.attentionBlockRows,
                                  context: w.encoderContext.data + h * c.dKV, ldc: inner)
                }
            }
            GEMM.linear(w.encoderContext.data, rows: L, weight: layer.attentionOut, into: hidden.data,
                        accumulate: true, threads: threads, scratch: w.weightSlices)
            feedForward(hidden: hidden, rows: L, norm: layer.ffnNorm, wi: layer.ffnIn, wo: layer.ffnOut,
                        normed: w.encoderNormed, ffn: w.encoderFFN, activated: w.encoderActivated,
                        slices: w.weightSlices)
        }
        rmsNorm(hidden, rows: L, weight: weights.encoderFinalNorm, into: w.encoderNormed)
    }
}
