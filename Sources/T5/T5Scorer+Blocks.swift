/// The pieces both stacks share: the normalised feed-forward sub-layer and one
/// attention head over strided Q/K/V slices.
extension T5Scorer {
    /// hidden[rows, d_model] += FFN(RMSNorm(hidden)); `ffn` [rows, ffRows],
    /// `activated` [rows, d_ff] and `slices` (`Workspace.weightSlices`) are scratch.
    func feedForward(hidden: Tensor, rows: Int, norm: Tensor, wi: WeightMatrix, wo: WeightMatrix,
                     normed: Tensor, ffn: Tensor, activated: Tensor, slices: Tensor) {
        let c = weights.config
        rmsNorm(hidden, rows: rows, weight: norm, into: normed)
        GEMM.linear(normed.data, rows: rows, weight: wi, into: ffn.data, threads: threads, scratch: slices)
        let ffRows = wi.rows
        Parallel.forEach(rows, threads: threads) { range, _ in
            VectorMath.activate(ffn.data + range.lowerBound * ffRows, rows: range.count, ff: c.dFF,
                                activation: c.denseActivation, gated: c.isGatedActivation,
                                into: activated.data + range.lowerBound * c.dFF)
        }
        GEMM.linear(activated.data, rows: rows, weight: wo, into: hidden.data, accumulate: true, threads: threads,
                    scratch: slices)
    }

    /// out = RMSNorm(x) over `rows` rows, split across threads.
    func rmsNorm(_ x: Tensor, rows: Int, weight: Tensor, into out: Tensor) {
        let d = weights.config.dModel, eps = weights.config.layerNormEpsilon
        Parallel.forEach(rows, threads: threads) { range, _ in
            VectorMath.rmsNorm(x.data + range.lowerBound * d, rows: range.count, dim: d, weight: weight.data,
                               epsilon: eps, into: out.data + range.lowerBound * d)
        }
    }

    /// One head of scale-free T5 attention (no 1/sqrt(d) factor):
    /// context[q, :] = softmax_k(Q[q]·K[k] + bias(k - q)) · V[k].
    ///
    /// - q, k, v: first element of this head's slice; rows `ldq`/`ldkv` apart, d_kv wide
    /// - bias: nil, or a vector over relative positions; query row i uses bias[k - i + biasOrigin]
    /// - scores: scratch [attentionBlockRows, keys], private to the calling thread
    /// - sums: scratch [attentionBlockRows], private to the calling thread
    /// - context: first element of this head's output slice, rows `ldc` apart
    ///
    /// Queries go in blocks of `Workspace.attentionBlockRows`, so a block's
    /// scores stay in cache from QK^T through the softmax to the P·V product.
    /// The softmax is fused: the bias is added in the max pass (no copy of it
    /// before the product), exponentials are left unnormalised, and the
    /// 1/sum is applied to the d_kv-wide context row instead of the keys-wide
    /// score row.
    ///
    /// Called from several threads at once (heads or candidates in parallel);
    /// it touches only its own scratch and its own context columns.
    func attentionHead(queries: Int, keys: Int,
                       q: UnsafePointer<Float>, ldq: Int,
                       k: UnsafePointer<Float>, v: UnsafePointer<Float>, ldkv: Int,
                       bias: UnsafePointer<Float>?, biasOrigin: Int,
                       scores: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>,
                       context: UnsafeMutablePointer<Float>, ldc: Int) {
        let dkv = weights.config.dKV
        var first = 0
        while first < queries {
            let rows = min(Workspace.attentionBlockRows, queries - first)
            GEMM.multiply(m: rows, n: keys, k: dkv, a: q + first * ldq, lda: ldq, b: k, ldb: ldkv, bTransposed: true,
                          c: scores, ldc: keys)
            VectorMath.exponentiateRows(scores, rows: rows, columns: keys,
                                        bias: bias.map { $0 + (biasOrigin - first) }, inverseSums: sums)
            let out = context + first * ldc
            GEMM.multiply(m: rows, n: dkv, k: keys, a: scores, lda: keys, b: v, ldb: ldkv, bTransposed: false,
                          c: out, ldc: ldc)
            for r in 0..<rows {
                let row = out + r * ldc, scale = sums[r]
                for j in 0..<dkv { row[j] *= scale }
            }
            first += rows
        }
    }
}
