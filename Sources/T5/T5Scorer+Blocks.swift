/// The pieces both stacks share: the normalised feed-forward sub-layer and one
/// attention head over strided Q/K/V slices.
extension T5Scorer {
    /// hidden[rows, d_model] += FFN(RMSNorm(hidden)); `ffn` [rows, ffRows] and
    /// `activated` [rows, d_ff] are scratch.
    func feedForward(hidden: Tensor, rows: Int, norm: Tensor, wi: Tensor, wo: Tensor,
                     normed: Tensor, ffn: Tensor, activated: Tensor) {
        let c = weights.config
        rmsNorm(hidden, rows: rows, weight: norm, into: normed)
        GEMM.linear(normed.data, rows: rows, weight: wi, into: ffn.data, threads: threads)
        let ffRows = wi.rows
        Parallel.forEach(rows, threads: threads) { range, _ in
            VectorMath.activate(ffn.data + range.lowerBound * ffRows, rows: range.count, ff: c.dFF,
                                activation: c.denseActivation, gated: c.isGatedActivation,
                                into: activated.data + range.lowerBound * c.dFF)
        }
        GEMM.linear(activated.data, rows: rows, weight: wo, into: hidden.data, accumulate: true, threads: threads)
    }

    /// out = RMSNorm(x) over `rows` rows, split across threads.
    func rmsNorm(_ x: Tensor, rows: Int, weight: Tensor, into out: Tensor) {
        let d = weights.config.dModel, eps = weights.config.layerNormEpsilon
        Parallel.forEach(rows, threads: threads) { range, _ in
            VectorMath.rmsNorm(x.data + range.lowerBound * d, rows: range.count, dim: d, weight: weight.data,
                               epsilon: eps, into: out.data + range.lowerBound * d)
        }
    }

    /// One head of scaled-free T5 attention (no 1/sqrt(d) factor):
    /// context[q, :] = softmax_k(Q[q]·K[k] + bias(k - q)) · V[k].
    ///
    /// - q, k, v: first element of this head's slice; rows `ldq`/`ldkv` apart, d_kv wide
    /// - bias: nil, or a vector over relative positions with bias[k - q + biasOrigin]
    /// - scores: scratch [queries, keys], private to the calling thread
    ///
    /// Called from several threads at once (heads or candidates in parallel);
    /// it touches only its own scores and its own context columns.
    /// - context: first element of this head's output slice, rows `ldc` apart
    func attentionHead(queries: Int, keys: Int,
                       q: UnsafePointer<Float>, ldq: Int,
                       k: UnsafePointer<Float>, v: UnsafePointer<Float>, ldkv: Int,
                       bias: UnsafePointer<Float>?, biasOrigin: Int,
                       scores: UnsafeMutablePointer<Float>,
                       context: UnsafeMutablePointer<Float>, ldc: Int) {
        let dkv = weights.config.dKV
        if let bias {
            // Row q of the bias matrix is the contiguous run starting at k - q = -q.
            for row in 0..<queries {
                (scores + row * keys).update(from: bias + (biasOrigin - row), count: keys)
            }
        }
        GEMM.multiply(m: queries, n: keys, k: dkv, a: q, lda: ldq, b: k, ldb: ldkv, bTransposed: true,
                      c: scores, ldc: keys, beta: bias == nil ? 0 : 1)
        VectorMath.softmaxRows(scores, rows: queries, columns: keys, stride: keys)
        GEMM.multiply(m: queries, n: dkv, k: keys, a: scores, lda: keys, b: v, ldb: ldkv, bTransposed: false,
                      c: context, ldc: ldc)
    }
}
