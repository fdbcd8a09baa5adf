/// One pass's use of the context cache: which of its instructions are cached (their K/V read in place from
/// the cache's entries) and which are computed (encoded together as `missing`, their K/V written layer by layer
/// into new entries, stored once the pass has them all).
///
/// The decoder's cross-attention reads each group's K/V through `keysAndValues(group:layer:)`, so neither a
/// hit nor a lone miss copies K/V: a miss's product writes straight into its entry.
/// An instruction twice in one pass is computed once; an instruction another pass is computing is waited for
/// (`ContextCache.claim`).
final class ContextPlan {
    enum Source {
        case cached(ContextCache.Entry)
        /// slot s of `missing`
        case computed(Int)
    }

    let cache: ContextCache
    /// the instructions to encode, each once
    let missing: EncoderBatch
    /// per group of the pass
    let sources: [Source]
    /// per slot of `missing`: its new entry, [layers, L, 2*inner], written layer by layer
    private let computed: [ContextCache.Entry]
    private let layers: Int, kvWidth: Int
    private var stored = false

    init(cache: ContextCache, instructions: [[Int32]], config c: T5Config) {
        self.cache = cache
        layers = c.numDecoderLayers
        kvWidth = 2 * c.innerDim
        let claims = cache.claim(instructions)
        var slots: [[Int32]: Int] = [:]
        var toEncode: [[Int32]] = []
        var sources: [Source] = []
        for (instruction, claim) in zip(instructions, claims) {
            switch claim {
            case let .hit(entry): sources.append(.cached(entry))
            case .compute:
                if let slot = slots[instruction] { sources.append(.computed(slot)); continue }
                slots[instruction] = toEncode.count
                sources.append(.computed(toEncode.count))
                toEncode.append(instruction)
            }
        }
        missing = EncoderBatch(instructions: toEncode)
        computed = toEncode.map { ContextCache.Entry(count: c.numDecoderLayers * $0.count * 2 * c.innerDim) }
        self.sources = sources
    }

    /// Layer l's cross K|V of the missing instructions, from one product over their encoder rows
    /// (`workspace.encoderNormed`), into their entries: straight into it when one instruction is missing,
    /// else through `workspace.computedKV`.
    func layer(_ l: Int, weight: WeightTile, workspace w: Workspace, threads: Int) {
        guard missing.rows > 0 else { return }
        if missing.count == 1 {
            GEMM.linear(w.encoderNormed.data, rows: missing.rows, weight: weight, into: computed[0].data + l * missing.rows * kvWidth,
                        threads: threads, scratch: w.weightSlices)
        } else {
            let computedKV = w.computedKV.data                                     // [rows of missing, 2*inner]
            GEMM.linear(w.encoderNormed.data, rows: missing.rows, weight: weight, into: computedKV, threads: threads,
                        scratch: w.weightSlices)
            for slot in 0..<missing.count {
                let length = missing.length(slot)
                (computed[slot].data + l * length * kvWidth).update(from: computedKV + missing.rowStart[slot] * kvWidth,
                                                                   count: length * kvWidth)
            }
        }
        if l == layers - 1 { store() }
    }

    /// Group g's K|V rows of layer l: [L_g, 2*inner].
    func keysAndValues(group g: Int, layer l: Int, length: Int) -> UnsafeMutablePointer<Float> {
        switch sources[g] {
        case let .cached(entry): return entry.data + l * length * kvWidth
        case let .computed(slot): return computed[slot].data + l * length * kvWidth
        }
    }

    /// Every computed instruction into the cache (after the last layer).
    private func store() {
        for slot in 0..<missing.count {
            cache.fill(Array(missing.ids[missing.rowStart[slot]..<missing.rowStart[slot + 1]]), computed[slot])
        }
        stored = true
    }

    /// Releases the claims of a pass that ended before storing them (none in a pass that ran to its end).
    func finish() {
        guard !stored else { return }
        for slot in 0..<missing.count {
            cache.release(Array(missing.ids[missing.rowStart[slot]..<missing.rowStart[slot + 1]]))
        }
    }
}
