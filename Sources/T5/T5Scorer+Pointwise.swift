import Foundation

/// Pointwise scoring: MonoT5, RankT5 and yes/no models read a candidate's relevance from the
/// logits of a few vocabulary ids at the first decoder step, with each candidate (or window of a
/// long document) as its own encoder input.
///
/// The inputs of a pass run as one ragged encoder batch (as teacher-forced groups do), then one
/// decoder row per input (the start token; a `DecoderTree` group with one empty target), and
/// only the readout rows of the vocabulary projection: for a yes/no model 2 dot products of
/// d_model per input instead of a [d_model × 32,128] product and a log-sum-exp. The full softmax
/// is not needed: MonoT5's P(true) is the softmax over the two logits alone, RankT5's score is
/// the raw logit.
extension T5Scorer {
    /// One engine pass over pointwise inputs `scored` (indices into `inputs`, all valid), results written in place.
    ///
    /// With a context cache, an input already scored (the same input ids and readout ids: a query and document
    /// window asked again) takes its logits from the cache, and only the others run; the cache keeps each
    /// input's readout logits (a few floats) under its ids, the readout after a -1 no token id can be.
    func runPointwisePass(_ scored: [Int], inputs: [ScoringInput], into results: inout [Result<ScoreResult, T5Error>]) {
        guard let cache = contextCache else { return computePointwise(scored, inputs: inputs, into: &results) }
        let keys = scored.map { inputs[$0].instruction + [-1] + (inputs[$0].readout ?? []) }
        let claims = cache.claim(keys)
        var firstOf: [[Int32]: Int] = [:]
        var compute: [Int] = []
        for (k, claim) in claims.enumerated() {
            if case let .hit(entry) = claim {
                results[scored[k]] = .success(ScoreResult(tokenLogProbabilities: [], logits: entry.values, encodeSeconds: 0,
                                                          decodeSeconds: 0, decoderRows: 1, candidateRows: 1, batchInputs: scored.count))
            } else if firstOf[keys[k]] == nil {
                firstOf[keys[k]] = k
                compute.append(scored[k])
            }
        }
        var stored = false
        defer { if !stored { for k in firstOf.values { cache.release(keys[k]) } } }
        if !compute.isEmpty { computePointwise(compute, inputs: inputs, into: &results) }
        for (k, claim) in claims.enumerated() {
            guard case .compute = claim, let first = firstOf[keys[k]] else { continue }
            if first != k { results[scored[k]] = results[scored[first]] }   // the same input twice in the pass
        }
        for (key, k) in firstOf {
            if case let .success(result) = results[scored[k]] {
                cache.fill(key, ContextCache.Entry(result.logits))
            } else {
                cache.release(key)
            }
        }
        stored = true
    }

    /// The pass itself, every input of `scored` computed.
    private func computePointwise(_ scored: [Int], inputs: [ScoringInput], into results: inout [Result<ScoreResult, T5Error>]) {
        let c = weights.config, d = c.dModel
        let encoder = EncoderBatch(instructions: scored.map { inputs[$0].instruction })
        // One group per input, each with one empty target: its only row is the start token (sizes the workspace).
        let tree = DecoderTree(groups: scored.map { _ in [[]] }, start: c.decoderStartTokenID, eos: c.eosTokenID, sharing: false)
        let w = workspaceFor(encoder: encoder, tree: tree)
        let t0 = DispatchTime.now().uptimeNanoseconds
        runEncoder(encoder, workspace: w)
        let t1 = DispatchTime.now().uptimeNanoseconds
        runFirstStepDecoder(encoder: encoder, workspace: w)   // final hidden states [groups, d_model], scaled for v1.0
        // The readout ids of the pass, each vocabulary row widened once: [ids, d_model].
        var ids: [Int32] = []
        var rowOf: [Int32: Int] = [:]
        for i in scored { for id in inputs[i].readout ?? [] where rowOf[id] == nil { rowOf[id] = ids.count; ids.append(id) } }
        var head = [Float](repeating: 0, count: ids.count * d)              // [ids, d_model]
        head.withUnsafeMutableBufferPointer { head in
            guard let rows = head.baseAddress else { return }
            for (k, id) in ids.enumerated() {
                // The row lookup of any weight type (as for embeddings): F32 copied, 16-bit widened.
                weights.lmHead.widen(rows: Int(id)..<(Int(id) + 1), into: rows + k * d)
            }
        }
        let hidden = w.decoderNormed.data                                   // [groups, d_model]
        let t2 = DispatchTime.now().uptimeNanoseconds
        for (g, i) in scored.enumerated() {
            let row = hidden + tree.groupRowStart[g] * d
            let logits = (inputs[i].readout ?? []).map { id -> Float in
                let k = rowOf[id] ?? 0
                // Accumulate in double: the logit is the whole answer, keep rounding out of it.
                var total = 0.0
                for j in 0..<d { total += Double(row[j]) * Double(head[k * d + j]) }
                return Float(total)
            }
            results[i] = .success(ScoreResult(
                tokenLogProbabilities: [], logits: logits,
                encodeSeconds: Double(t1 - t0) / 1e9, decodeSeconds: Double(t2 - t1) / 1e9,
                decoderRows: 1, candidateRows: 1, batchInputs: scored.count))
        }
    }
}
