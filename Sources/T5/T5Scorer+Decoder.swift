/// The candidates of one request as one packed (ragged) decoder batch.
///
/// Candidate b occupies rows offsets[b] ..< offsets[b] + lengths[b] of every
/// [N, *] decoder buffer. Packing instead of padding is the padding mask: no
/// row ever holds a pad token, linear layers see only real tokens, and each
/// candidate's causal self-attention is bounded by its own length.
struct DecoderBatch {
    let inputs: [Int32]     // [N]  decoder_start, then each candidate's tokens shifted right
    let targets: [Int32]    // [N]  each candidate's tokens followed by </s>
    let offsets: [Int]      // [B]
    let lengths: [Int]      // [B]
    var rows: Int { inputs.count }
    var longest: Int { lengths.max() ?? 0 }

    init(candidates: [[Int32]], start: Int32, eos: Int32) {
        var inputs: [Int32] = [], targets: [Int32] = [], offsets: [Int] = [], lengths: [Int] = []
        for tokens in candidates {
            offsets.append(inputs.count)
            lengths.append(tokens.count + 1)
            inputs.append(start)
            inputs.append(contentsOf: tokens)
            targets.append(contentsOf: tokens)
            targets.append(eos)
        }
        self.inputs = inputs
        self.targets = targets
        self.offsets = offsets
        self.lengths = lengths
    }
}

extension T5Scorer {
    /// Runs the decoder over all candidates against the encoder output in
    /// `workspace.encoderNormed` ([L, d_model]). Leaves the final hidden states
    /// [N, d_model], already scaled when the config asks (T5 v1.0), in `workspace.decoderNormed`.
    func runDecoder(_ batch: DecoderBatch, encoderRows L: Int, workspace w: Workspace) {
        let c = weights.config
        let N = batch.rows, d = c.dModel, inner = c.innerDim, heads = c.numHeads, dkv = c.dKV
        let kvWidth = c.numDecoderLayers * 2 * inner

        // Cross-attention K and V of every layer in one GEMM: [L, layers*2*inner].
        // Computed once per request and shared by all candidates.
        GEMM.linear(w.encoderNormed.data, rows: L, weight: weights.crossKV, into: w.crossKV.data, threads: threads)

        let hidden = w.decoderHidden                  // [N, d_model]
        for (row, id) in batch.inputs.enumerated() {
            (hidden.data + row * d).update(from: weights.embedding.data + Int(id) * d, count: d)
        }
        // Causal bias by relative position r = k - q in [-(T-1), T-1]; r > 0 is masked.
        let T = batch.longest, biasWidth = 2 * T - 1
        for r in -(T - 1)...(T - 1) {
            let bucket = RelativePositionBias.bucket(relative: r, bidirectional: false,
                                                     numBuckets: c.relativeAttentionNumBuckets,
                                                     maxDistance: c.relativeAttentionMaxDistance)
            for h in 0..<heads {
                w.decoderBias.data[h * biasWidth + r + T - 1] =
                    r > 0 ? -.infinity : weights.decoderRelativeBias.data[bucket * heads + h]
            }
        }

        for (l, layer) in weights.decoderLayers.enumerated() {
            // Causal self-attention, each candidate against its own prefix.
            rmsNorm(hidden, rows: N, weight: layer.selfNorm, into: w.decoderNormed)
            GEMM.linear(w.decoderNormed.data, rows: N, weight: layer.selfQKV, into: w.decoderQKV.data, threads: threads)
            let qkv = w.decoderQKV.data, ld = 3 * inner
            Parallel.forEach(batch.offsets.count, threads: threads) { range, worker in
                for b in range {
                    let offset = batch.offsets[b], length = batch.lengths[b]
                    let base = qkv + offset * ld
                    for h in 0..<heads {
                        attentionHead(queries: length, keys: length,
                                      q: base + h * dkv, ldq: ld,
                                      k: base + inner + h * dkv, v: base + 2 * inner + h * dkv, ldkv: ld,
                                      bias: w.decoderBias.data + h * biasWidth, biasOrigin: T - 1,
                                      scores: w.selfScores.data + worker * T * T,
                                      context: w.decoderContext.data + offset * inner + h * dkv, ldc: inner)
                    }
                }
            }
            GEMM.linear(w.decoderContext.data, rows: N, weight: layer.selfOut, into: hidden.data,
                        accumulate: true, threads: threads)

            // Cross-attention: all N rows against the shared encoder K/V, one GEMM per head.
            rmsNorm(hidden, rows: N, weight: layer.crossNorm, into: w.decoderNormed)
            GEMM.linear(w.decoderNormed.data, rows: N, weight: layer.crossQ, into: w.decoderQuery.data, threads: threads)
            let kv = w.crossKV.data + l * 2 * inner
            Parallel.forEach(heads, threads: threads) { range, worker in
                for h in range {
                    attentionHead(queries: N, keys: L,
                                  q: w.decoderQuery.data + h * dkv, ldq: inner,
                                  k: kv + h * dkv, v: kv + inner + h * dkv, ldkv: kvWidth,
                                  bias: nil, biasOrigin: 0,
                                  scores: w.crossScores.data + worker * N * L,
                                  context: w.decoderContext.data + h * dkv, ldc: inner)
                }
            }
            GEMM.linear(w.decoderContext.data, rows: N, weight: layer.crossOut, into: hidden.data,
                        accumulate: true, threads: threads)

            feedForward(hidden: hidden, rows: N, norm: layer.ffnNorm, wi: layer.ffnIn, wo: layer.ffnOut,
                        normed: w.decoderNormed, ffn: w.decoderFFN, activated: w.decoderActivated)
        }
        rmsNorm(hidden, rows: N, weight: weights.decoderFinalNorm, into: w.decoderNormed)
        if c.scaleDecoderOutputs {
            // T5 v1.0 rescales before the tied lm_head (HF: sequence_output * model_dim**-0.5).
            let scale = 1 / Float(d).squareRoot()
            for i in 0..<(N * d) { w.decoderNormed.data[i] *= scale }
        }
    }

    /// log p(target[row]) for every packed row: lm_head in chunks of 128 rows
    /// ([128, vocab] logits at a time), then logit[target] - logsumexp(logits).
    func gatherLogProbabilities(_ batch: DecoderBatch, workspace w: Workspace) -> [Float] {
        let c = weights.config, d = c.dModel, vocab = c.vocabSize
        var result = [Float](repeating: 0, count: batch.rows)
        var start = 0
        while start < batch.rows {
            let rows = min(Workspace.logitChunkRows, batch.rows - start)
            GEMM.linear(w.decoderNormed.data + start * d, rows: rows, weight: weights.lmHead, into: w.logits.data,
                        threads: threads)
            result.withUnsafeMutableBufferPointer { out in
                let out = out
                Parallel.forEach(rows, threads: threads) { range, _ in
                    for r in range {
                        let row = w.logits.data + r * vocab
                        out[start + r] = row[Int(batch.targets[start + r])] - VectorMath.logSumExp(row, count: vocab)
                    }
                }
            }
            start += rows
        }
        return result
    }
}
