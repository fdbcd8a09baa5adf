import Foundation

extension T5Scorer {
    /// Runs the decoder over every node of the batch's prefix trees (one tree
    /// per instruction group) against the encoder output in
    /// `workspace.encoderNormed` ([ΣL, d_model], instruction g in rows
    /// encoder.rowStart[g] ..< rowStart[g + 1]). Leaves the final hidden
    /// states [N, d_model] (N = tree nodes of all groups), already scaled
    /// when the config asks (T5 v1.0), in `workspace.decoderNormed`.
    ///
    /// Every linear layer runs once over all N rows; self-attention stays
    /// within a candidate's path, and cross-attention within a group: group
    /// g's rows attend to instruction g's slice of the cross K/V.
    ///
    /// With `contexts`, `workspace.encoderNormed` holds only the instructions the context cache lacked
    /// (`contexts.missing`): their K/V are computed, the others' copied from the cache (`ContextPlan`).
    func runDecoder(_ tree: DecoderTree, encoder: EncoderBatch, workspace w: Workspace, contexts: ContextPlan? = nil) {
        let c = weights.config
        let N = tree.rows, d = c.dModel, inner = c.innerDim, heads = c.numHeads, dkv = c.dKV
        let kvWidth = 2 * inner

        let hidden = w.decoderHidden                  // [N, d_model]
        for (row, id) in tree.inputs.enumerated() {
            weights.embedding.widen(rows: Int(id)..<(Int(id) + 1), into: hidden.data + row * d)
        }
        // Causal bias by relative position r = k - q in [-(T-1), T-1]; r > 0 is masked.
        let T = tree.longest, biasWidth = 2 * T - 1
        for r in -(T - 1)...(T - 1) {
            let bucket = RelativePositionBias.bucket(relative: r, bidirectional: false,
                                                     numBuckets: c.relativeAttentionNumBuckets,
                                                     maxDistance: c.relativeAttentionMaxDistance)
            for h in 0..<heads {
                w.decoderBias.data[h * biasWidth + r + T - 1] =
                    r > 0 ? -.infinity : weights.decoderRelativeBias.data[bucket * heads + h]
            }
        }
        // Candidates that add nodes; each computes the self-attention of its own nodes.
        let owners = (0..<tree.candidates).filter { tree.lengths[$0] > tree.ownedDepth[$0] }
        let contiguous = owners.map { tree.pathIsContiguous($0) }
        let ownerCosts = owners.map { b in Double(tree.lengths[b] - tree.ownedDepth[b]) * Double(tree.lengths[b]) }
        // Cross-attention work items: pair i is group i / heads, head i % heads; cost ~ rows × keys.
        let crossCosts = (0..<(tree.groups * heads)).map { pair in
            let g = pair / heads
            return Double(tree.groupRowStart[g + 1] - tree.groupRowStart[g]) * Double(encoder.length(g))
        }

        for (l, layer) in weights.decoderLayers.enumerated() {
            // Causal self-attention: each candidate's owned nodes (consecutive
            // rows, depths ownedDepth…length-1) against its whole path.
            rmsNorm(hidden, rows: N, weight: layer.selfNorm, into: w.decoderNormed)
            GEMM.linear(w.decoderNormed.data, rows: N, weight: layer.selfQKV, into: w.decoderQKV.data, threads: threads,
                        scratch: w.weightSlices)
            let qkv = w.decoderQKV.data, ld = 3 * inner
            Parallel.forEach(costs: ownerCosts, threads: threads) { range, worker in
                for index in range {
                    let b = owners[index]
                    let length = tree.lengths[b], first = tree.ownedDepth[b], owned = tree.ownedStart[b]
                    var keys = qkv + tree.nodeOfPosition[tree.offsets[b]] * ld + inner  // K | V of the path
                    var ldkv = ld
                    if !contiguous[index] {
                        // Gather the path's K|V rows: [length, 2*inner] in this worker's scratch.
                        let path = w.pathKV.data + worker * w.targetLength * 2 * inner
                        for p in 0..<length {
                            (path + p * 2 * inner).update(from: qkv + tree.nodeOfPosition[tree.offsets[b] + p] * ld + inner,
                                                          count: 2 * inner)
                        }
                        keys = path
                        ldkv = 2 * inner
                    }
                    for h in 0..<heads {
                        attentionHead(queries: length - first, keys: length,
                                      q: qkv + owned * ld + h * dkv, ldq: ld,
                                      k: keys + h * dkv, v: keys + inner + h * dkv, ldkv: ldkv,
                                      bias: w.decoderBias.data + h * biasWidth, biasOrigin: T - 1 - first,
                                      scores: w.attentionScores.data + worker * w.scoresPerThread,
                                      sums: w.softmaxSums.data + worker * Workspace.attentionBlockRows,
                                      context: w.decoderContext.data + owned * inner + h * dkv, ldc: inner)
                    }
                }
            }
            GEMM.linear(w.decoderContext.data, rows: N, weight: layer.selfOut, into: hidden.data,
                        accumulate: true, threads: threads, scratch: w.weightSlices)

            phaseClock?.mark(.selfAttention)
            // Cross-attention: group g's rows against instruction g's K/V, one GEMM per (group, head).
            rmsNorm(hidden, rows: N, weight: layer.crossNorm, into: w.decoderNormed)
            GEMM.linear(w.decoderNormed.data, rows: N, weight: layer.crossQ, into: w.decoderQuery.data, threads: threads,
                        scratch: w.weightSlices)
            phaseClock?.mark(.crossAttention)
            // This layer's cross-attention K|V over all instructions: [ΣL, 2*inner], rows l*2*inner ..< (l+1)*2*inner
            // of the stacked weight. Group g's candidates share instruction g's rows. One layer at a time,
            // not all layers in one product: the same flops, and the scratch is 1/layers the size
            // (flan-t5-xl, a 2048-token pass: 32 MiB instead of 768 MiB).
            let kvWeight = weights.crossKV.tile(rows: (l * kvWidth)..<((l + 1) * kvWidth))
            if let contexts {
                contexts.layer(l, weight: kvWeight, workspace: w, threads: threads)
            } else {
                GEMM.linear(w.encoderNormed.data, rows: encoder.rows, weight: kvWeight, into: w.crossKV.data,
                            threads: threads, scratch: w.weightSlices)
            }
            phaseClock?.mark(.crossKV)
            let kv = w.crossKV.data
            Parallel.forEach(costs: crossCosts, threads: threads) { range, worker in
                for pair in range {
                    let g = pair / heads, h = pair % heads
                    // Group g's K|V [L_g, 2*inner]: in the cache's entry with a context cache, else in crossKV.
                    let groupKV = contexts?.keysAndValues(group: g, layer: l, length: encoder.length(g))
                        ?? kv + encoder.rowStart[g] * kvWidth
                    let first = tree.groupRowStart[g]
                    attentionHead(queries: tree.groupRowStart[g + 1] - first, keys: encoder.length(g),
                                  q: w.decoderQuery.data + first * inner + h * dkv, ldq: inner,
                                  k: groupKV + h * dkv, v: groupKV + inner + h * dkv, ldkv: kvWidth,
                                  bias: nil, biasOrigin: 0,
                                  scores: w.attentionScores.data + worker * w.scoresPerThread,
                                  sums: w.softmaxSums.data + worker * Workspace.attentionBlockRows,
                                  context: w.decoderContext.data + first * inner + h * dkv, ldc: inner)
                }
            }
            GEMM.linear(w.decoderContext.data, rows: N, weight: layer.crossOut, into: hidden.data,
                        accumulate: true, threads: threads, scratch: w.weightSlices)
            phaseClock?.mark(.crossAttention)

            feedForward(hidden: hidden, rows: N, norm: layer.ffnNorm, wi: layer.ffnIn, wo: layer.ffnOut,
                        normed: w.decoderNormed, ffn: w.decoderFFN, activated: w.decoderActivated,
                        slices: w.weightSlices)
            phaseClock?.mark(.feedForward)
        }
        rmsNorm(hidden, rows: N, weight: weights.decoderFinalNorm, into: w.decoderNormed)
        if c.scaleDecoderOutputs {
            // T5 v1.0 rescales before the tied lm_head (HF: sequence_output * model_dim**-0.5).
            let scale = 1 / Float(d).squareRoot()
            for i in 0..<(N * d) { w.decoderNormed.data[i] *= scale }
        }
    }

    /// log p(target) for every scoring position: logit[node, target] - logsumexp(logits[node, :]).
    ///
    /// The lm_head runs in tiles of up to `logitChunkRows` node rows by
    /// `tileColumns` vocabulary columns ([512, 512] floats = 1 MiB, in L2 on
    /// Zen 4, L3 elsewhere). Each tile's rows are folded into a running (max, sum)
    /// per row by a one-pass online log-sum-exp, and the target logits in it are
    /// picked, while the tile is still in cache; the [rows, vocab] logits never exist.
    /// Threads take disjoint column ranges and merge their (max, sum) at the end.
    ///
    /// Every block of rows is one sgemm, which packs its vocabulary tile again: 512 rows
    /// per block rather than 128 pack the lm_head once, not three times, for a
    /// 20-candidate request (~320 rows). Measured (flan-t5-small shapes, 2 threads,
    /// Cooperlake, the phase table): 66.0 ms with 128 rows, 60.0 / 62.2 with 256,
    /// 58.4 / 59.2 with 512.
    ///
    /// Column tiles are the outer loop and row blocks the inner one, so a
    /// 16-bit lm_head is widened once per pass whatever the number of rows:
    /// with the rows outside, a batch of 8 requests (~2,400 nodes) widened
    /// the whole [vocab, d_model] matrix 19 times.
    func gatherLogProbabilities(_ tree: DecoderTree, workspace w: Workspace) -> [Float] {
        let c = weights.config, d = c.dModel, vocab = c.vocabSize, N = tree.rows
        let tileRows = Workspace.logitChunkRows
        // A 16-bit tile is widened whole into the thread's weight scratch, so it holds at most that many rows.
        let tileColumns = max(1, min(Workspace.logitChunkColumns, w.weightSlices.columns / d))
        let columnTiles = (vocab + tileColumns - 1) / tileColumns
        let workers = max(1, min(threads, columnTiles))
        var targetLogits = [Float](repeating: 0, count: tree.positions)   // [P]
        targetLogits.withUnsafeMutableBufferPointer { picked in
            let picked = picked
            Parallel.forEach(columnTiles, threads: workers) { range, worker in
                let tile = w.logits.data + worker * tileRows * Workspace.logitChunkColumns   // [rows, columns]
                let maxima = w.logitMax.data + worker * w.decoderRows                       // [N]
                let sums = w.logitSum.data + worker * w.decoderRows                         // [N], relative to maxima
                let scratch = w.weightSlices.data + worker * w.weightSlices.columns    // a 16-bit vocabulary tile, widened
                for r in 0..<N { maxima[r] = -.infinity; sums[r] = 0 }
                // tile [rows, columns] = decoderNormed [rows, d_model] · lm_head[column ..< column + columns, :]^T
                // per block of up to tileRows node rows; a 16-bit vocabulary tile is widened once into scratch.
                let vocabularyTiles = range.map { t in (t * tileColumns)..<min((t + 1) * tileColumns, vocab) }
                GEMM.linear(w.decoderNormed.data, rows: N, blockRows: tileRows, weight: weights.lmHead,
                            tiles: vocabularyTiles, into: tile, scratch: scratch) { columnsOfTile, start, rows in
                    let column = columnsOfTile.lowerBound, columns = columnsOfTile.count
                    for r in 0..<rows {
                        let row = tile + r * columns, node = start + r
                        VectorMath.accumulateLogSumExp(row, count: columns, max: &maxima[node], sum: &sums[node])
                        for i in tree.positionStart[node]..<tree.positionStart[node + 1] {
                            let position = tree.positionsByNode[i]
                            let target = Int(tree.targets[position]) - column
                            if target >= 0 && target < columns { picked[position] = row[target] }
                        }
                    }
                }
            }
        }
        // Merge the workers' (max, sum) per row into the log-sum-exp.
        var result = [Float](repeating: 0, count: tree.positions)         // [P]
        for node in 0..<N {
            var maximum = -Float.infinity
            for worker in 0..<workers { maximum = max(maximum, w.logitMax.data[worker * w.decoderRows + node]) }
            var sum: Float = 0
            for worker in 0..<workers {
                let m = w.logitMax.data[worker * w.decoderRows + node]
                if m > -.infinity { sum += w.logitSum.data[worker * w.decoderRows + node] * Foundation.exp(m - maximum) }
            }
            let lse = maximum + Foundation.log(sum)
            for i in tree.positionStart[node]..<tree.positionStart[node + 1] {
                let position = tree.positionsByNode[i]
                result[position] = targetLogits[position] - lse
            }
        }
        return result
    }
}
