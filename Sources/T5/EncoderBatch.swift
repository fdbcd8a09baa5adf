/// The instructions of a batch as one ragged set of encoder rows.
///
/// Instruction g is rows rowStart[g] ..< rowStart[g + 1] of every encoder
/// buffer. Row-wise work (embedding, RMSNorm, every linear layer, the
/// cross-attention K/V product) runs over all rows at once; attention is
/// block-diagonal: instruction g's queries attend only to its own keys, with
/// relative positions counted inside g.
struct EncoderBatch {
    let ids: [Int32]      // [ΣL]   token ids, instruction after instruction
    let rowStart: [Int]   // [G + 1]

    init(instructions: [[Int32]]) {
        var ids: [Int32] = [], rowStart = [0]
        ids.reserveCapacity(instructions.reduce(0) { $0 + $1.count })
        for instruction in instructions {
            ids.append(contentsOf: instruction)
            rowStart.append(ids.count)
        }
        self.ids = ids
        self.rowStart = rowStart
    }

    var rows: Int { ids.count }
    var count: Int { rowStart.count - 1 }
    func length(_ g: Int) -> Int { rowStart[g + 1] - rowStart[g] }
    /// The longest instruction: the width of the relative-position bias and of attention score rows.
    var longest: Int { (0..<count).map(length).max() ?? 0 }
}
