/// One pass's use of the context cache: which of its instructions are cached (their K/V copied in, layer by
/// layer) and which are computed (encoded together as `missing`, their K/V stored once the pass has them all).
///
/// An instruction twice in one pass is computed once; an instruction another pass is computing is waited for
/// (`ContextCache.claim`).
final class ContextPlan {
    enum Source {
        case cached(ContextCache.Entry)
        /// slot s of `missing`
        case computed(Int)
    }

    let cache: ContextCache
    let instructions: [[Int32]]
    /// the instructions to encode, each once
    let missing: EncoderBatch
    /// per group of the pass
    let sources: [Source]
    /// per slot of `missing`: [layers, L, 2*inner], filled layer by layer
    private var computed: [[Float]]
    private let layers: Int, kvWidth: Int
    private var filled = false

    init(cache: ContextCache, instructions: [[Int32]], config c: T5Config) {
        self.cache = cache
        self.instructions = instructions
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
        computed = toEncode.map { [Float](repeating: 0, count: c.numDecoderLayers * $0.count * 2 * c.innerDim) }
        self.sources = sources
    }

    /// Layer l's cross K|V for every instruction of the pass, laid out as `encoder` ([ΣL, 2*inner] in
    /// `workspace.crossKV`): the missing ones' from one product over their encoder rows, the others' copied.
    func layer(_ l: Int, weight: WeightTile, encoder: EncoderBatch, workspace w: Workspace, threads: Int) {
        let computedKV = w.computedKV.data                                       // [rows of missing, 2*inner]
        if missing.rows > 0 {
            GEMM.linear(w.encoderNormed.data, rows: missing.rows, weight: weight, into: computedKV, threads: threads,
                        scratch: w.weightSlices)
            for slot in 0..<missing.count {
                let length = missing.length(slot)
                computed[slot].withUnsafeMutableBufferPointer { entry in
                    (entry.baseAddress! + l * length * kvWidth).update(from: computedKV + missing.rowStart[slot] * kvWidth,
                                                                       count: length * kvWidth)
                }
            }
        }
        for (g, source) in sources.enumerated() {
            let target = w.crossKV.data + encoder.rowStart[g] * kvWidth, count = encoder.length(g) * kvWidth
            switch source {
            case let .cached(entry):
                entry.keysAndValues.withUnsafeBufferPointer { target.update(from: $0.baseAddress! + l * count, count: count) }
            case let .computed(slot):
                target.update(from: computedKV + missing.rowStart[slot] * kvWidth, count: count)
            }
        }
        if l == layers - 1 { store() }
    }

    /// Every computed instruction into the cache (after the last layer).
    private func store() {
        for slot in 0..<missing.count {
            let start = missing.rowStart[slot]
            let instruction = Array(missing.ids[start..<missing.rowStart[slot + 1]])
            cache.fill(instruction, ContextCache.Entry(keysAndValues: computed[slot], length: instruction.count))
        }
        filled = true
    }

    /// Releases the claims of a pass that ended before storing them (none in a pass that ran to its end).
    func finish() {
        guard !filled else { return }
        for slot in 0..<missing.count {
            cache.release(Array(missing.ids[missing.rowStart[slot]..<missing.rowStart[slot + 1]]))
        }
    }
}
