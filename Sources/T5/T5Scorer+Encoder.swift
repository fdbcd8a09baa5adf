extension T5Scorer {
    /// Runs the encoder over a batch of instructions as one ragged set of rows;
    /// the result [ΣL, d_model] is left in `workspace.encoderNormed` (after the
    /// final RMSNorm), instruction g in rows batch.rowStart[g] ..< rowStart[g + 1].
    ///
    /// Every linear layer runs once over all ΣL rows; attention runs per
    /// (instruction, head) pair, each instruction's queries against its own keys.
    func runEncoder(_ batch: EncoderBatch, workspace w: Workspace) {
        let c = weights.config
        let rows = batch.rows, d = c.dModel, inner = c.innerDim, heads = c.numHeads
        let hidden = w.encoderHidden                 // [ΣL, d_model]
        for (row, id) in batch.ids.enumerated() {
            weights.embedding.widen(rows: Int(id)..<(Int(id) + 1), into: hidden.data + row * d)
        }
        // bias[h, r + Lmax - 1] for relative position r = k - q in [-(Lmax-1), Lmax-1], bidirectional
        // buckets. The bias depends only on r, so one table serves every instruction of the batch.
        let Lmax = batch.longest, biasWidth = 2 * Lmax - 1
        for r in -(Lmax - 1)...(Lmax - 1) {
            let bucket = RelativePositionBias.bucket(relative: r, bidirectional: true,
                                                     numBuckets: c.relativeAttentionNumBuckets,
                                                     maxDistance: c.relativeAttentionMaxDistance)
            for h in 0..<heads {
                w.encoderBias.data[h * biasWidth + r + Lmax - 1] = weights.encoderRelativeBias.data[bucket * heads + h]
            }
        }
        // Attention work items: pair i is instruction i / heads, head i % heads; cost ~ L².
        let pairCosts = (0..<(batch.count * heads)).map { Double(batch.length($0 / heads)) * Double(batch.length($0 / heads)) }
        for layer in weights.encoderLayers {
            rmsNorm(hidden, rows: rows, weight: layer.attentionNorm, into: w.encoderNormed)
            GEMM.linear(w.encoderNormed.data, rows: rows, weight: layer.qkv, into: w.encoderQKV.data, threads: threads,
                        scratch: w.weightSlices)
            let ld = 3 * inner
            Parallel.forEach(costs: pairCosts, threads: threads) { range, worker in
                for pair in range {
                    let g = pair / heads, h = pair % heads
                    let L = batch.length(g)
                    let qkv = w.encoderQKV.data + batch.rowStart[g] * ld   // [L, 3*inner] of instruction g
                    attentionHead(queries: L, keys: L,
                                  q: qkv + h * c.dKV, ldq: ld,
                                  k: qkv + inner + h * c.dKV, v: qkv + 2 * inner + h * c.dKV, ldkv: ld,
                                  bias: w.encoderBias.data + h * biasWidth, biasOrigin: Lmax - 1,
                                  scores: w.attentionScores.data + worker * w.scoresPerThread,
                                  sums: w.softmaxSums.data + worker * Workspace.attentionBlockRows,
                                  context: w.encoderContext.data + batch.rowStart[g] * inner + h * c.dKV, ldc: inner)
                }
            }
            GEMM.linear(w.encoderContext.data, rows: rows, weight: layer.attentionOut, into: hidden.data,
                        accumulate: true, threads: threads, scratch: w.weightSlices)
            feedForward(hidden: hidden, rows: rows, norm: layer.ffnNorm, wi: layer.ffnIn, wo: layer.ffnOut,
                        normed: w.encoderNormed, ffn: w.encoderFFN, activated: w.encoderActivated,
                        slices: w.weightSlices)
        }
        rmsNorm(hidden, rows: rows, weight: weights.encoderFinalNorm, into: w.encoderNormed)
    }
}
