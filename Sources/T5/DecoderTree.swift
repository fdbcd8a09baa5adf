/// The candidates of one or more instruction groups as packed prefix trees
/// (a trie over each group's token sequences).
///
/// Teacher forcing feeds candidate b = [t0 … t(n-1)] the decoder inputs
/// [decoder_start, t0 … t(n-1)] and scores the targets [t0 … t(n-1), </s>].
/// The decoder row at position p depends only on the inputs at positions
/// 0…p, that is on decoder_start and the title prefix t0 … t(p-1). Candidates
/// whose first p tokens agree therefore have identical rows 0…p: identical
/// hidden states, self-attention K/V and lm_head row. A node of this tree is
/// one such row; it is computed once and every candidate through it reads it.
///
/// - The root is position 0 (decoder_start), shared by every candidate.
/// - A node at depth p attends causally to its ancestors (depths 0…p-1) and
///   itself, with relative positions taken from depths, exactly as the row at
///   position p of an unshared candidate does.
/// - Nodes are numbered in the order candidates first reach them, so the
///   nodes a candidate adds (its *owned* nodes, the suffix of its path past
///   the longest prefix shared with an earlier candidate) are consecutive rows.
///   A candidate that is a prefix of an earlier one, or a duplicate, owns none.
/// - With sharing off every candidate owns its whole path and the layout is
///   the old packed (ragged) batch: candidate b's rows are contiguous.
///
/// Scoring positions (one per target token) keep the old packed order:
/// candidate b's log-probs are positions offsets[b] ..< offsets[b] + lengths[b].
///
/// A batch of several groups (instructions, possibly from several requests)
/// packs one tree per group, one after another: candidates are numbered
/// across all groups in order, and group g owns the consecutive candidates
/// groupCandidateStart[g] ..< groupCandidateStart[g + 1] and the consecutive
/// rows groupRowStart[g] ..< groupRowStart[g + 1]. Prefixes are shared only
/// within a group: the same title prefix under another instruction is
/// another row, because it cross-attends to another encoder output.
struct DecoderTree {
    let inputs: [Int32]       // [N]  input token of each node (decoder_start at the root)
    let depths: [Int]         // [N]  position of each node; 0 at the root
    let nodeOfPosition: [Int] // [P]  node whose lm_head row scores each position (the candidate's path)
    let targets: [Int32]      // [P]  target of each position: the title token, then </s>
    let offsets: [Int]        // [B]  first position of candidate b
    let lengths: [Int]        // [B]  positions of candidate b = title tokens + 1
    let ownedStart: [Int]     // [B]  first node row candidate b adds
    let ownedDepth: [Int]     // [B]  depth of that node; candidate b adds lengths[b] - ownedDepth[b] nodes
    /// Positions grouped by node (CSR): node i's positions are
    /// positionsByNode[positionStart[i] ..< positionStart[i + 1]].
    let positionStart: [Int]  // [N + 1]
    let positionsByNode: [Int] // [P]
    let groupCandidateStart: [Int] // [G + 1]  group g's candidates
    let groupRowStart: [Int]       // [G + 1]  group g's nodes (rows)

    var rows: Int { inputs.count }
    var positions: Int { targets.count }
    var longest: Int { lengths.max() ?? 0 }
    var candidates: Int { offsets.count }
    var groups: Int { groupRowStart.count - 1 }

    /// One group: the candidates of one instruction.
    init(candidates: [[Int32]], start: Int32, eos: Int32, sharing: Bool) {
        self.init(groups: [candidates], start: start, eos: eos, sharing: sharing)
    }

    /// Several groups packed one after another, each its own tree.
    init(groups: [[[Int32]]], start: Int32, eos: Int32, sharing: Bool) {
        var inputs: [Int32] = [], depths: [Int] = [], nodeOfPosition: [Int] = [], targets: [Int32] = []
        var offsets: [Int] = [], lengths: [Int] = [], ownedStart: [Int] = [], ownedDepth: [Int] = []
        var groupCandidateStart = [0], groupRowStart = [0]
        // (parent node, token) -> child node, kept across groups for its capacity.
        var children: [Int64: Int] = [:]
        for group in groups {
            children.removeAll(keepingCapacity: true)
            var root = -1   // this group's root node
            for tokens in group {
                offsets.append(targets.count)
                lengths.append(tokens.count + 1)
                var firstNew = -1, firstNewDepth = tokens.count + 1
                var node = -1
                for depth in 0...tokens.count {
                    let input = depth == 0 ? start : tokens[depth - 1]
                    var existing: Int?
                    if sharing {
                        existing = depth == 0 ? (root >= 0 ? root : nil) : children[Int64(node) << 32 | Int64(UInt32(bitPattern: input))]
                    }
                    if let existing {
                        node = existing
                    } else {
                        let parent = node
                        node = inputs.count
                        inputs.append(input)
                        depths.append(depth)
                        if firstNew < 0 { firstNew = node; firstNewDepth = depth }
                        if sharing {
                            if depth == 0 { root = node } else { children[Int64(parent) << 32 | Int64(UInt32(bitPattern: input))] = node }
                        }
                    }
                    nodeOfPosition.append(node)
                    targets.append(depth < tokens.count ? tokens[depth] : eos)
                }
                ownedStart.append(firstNew < 0 ? inputs.count : firstNew)
                ownedDepth.append(firstNewDepth)
            }
            groupCandidateStart.append(offsets.count)
            groupRowStart.append(inputs.count)
        }
        var counts = [Int](repeating: 0, count: inputs.count + 1)
        for node in nodeOfPosition { counts[node + 1] += 1 }
        for i in 0..<inputs.count { counts[i + 1] += counts[i] }
        var fill = counts
        var byNode = [Int](repeating: 0, count: nodeOfPosition.count)
        for (position, node) in nodeOfPosition.enumerated() {
            byNode[fill[node]] = position
            fill[node] += 1
        }
        self.inputs = inputs
        self.depths = depths
        self.nodeOfPosition = nodeOfPosition
        self.targets = targets
        self.offsets = offsets
        self.lengths = lengths
        self.ownedStart = ownedStart
        self.ownedDepth = ownedDepth
        self.positionStart = counts
        self.positionsByNode = byNode
        self.groupCandidateStart = groupCandidateStart
        self.groupRowStart = groupRowStart
    }

    /// True when candidate b's path is rows offset ..< offset + lengths[b] in order (no gather needed).
    func pathIsContiguous(_ b: Int) -> Bool {
        let first = nodeOfPosition[offsets[b]]
        for p in 0..<lengths[b] where nodeOfPosition[offsets[b] + p] != first + p { return false }
        return true
    }
}

/// Decoder rows a request needs with and without prefix sharing, for reports.
public struct DecoderSharing: Sendable, Equatable {
    /// candidates × (title tokens + 1): rows of the unshared packed batch
    public var unsharedRows: Int
    /// nodes of the prefix tree: rows actually computed
    public var sharedRows: Int
    /// (query row, key row) pairs of decoder self-attention in the unshared batch: Σ_b lengths[b]²
    public var unsharedAttentionPairs: Int
    /// the same with sharing: each candidate's owned rows against its whole path,
    /// Σ_b (lengths[b] − ownedDepth[b]) · lengths[b]
    public var sharedAttentionPairs: Int

    public init(candidates: [[Int32]]) {
        let tree = DecoderTree(candidates: candidates, start: 0, eos: 1, sharing: true)
        unsharedRows = candidates.reduce(0) { $0 + $1.count + 1 }
        sharedRows = tree.rows
        unsharedAttentionPairs = tree.lengths.reduce(0) { $0 + $1 * $1 }
        sharedAttentionPairs = zip(tree.lengths, tree.ownedDepth).reduce(0) { $0 + ($1.0 - $1.1) * $1.0 }
    }

    public var savedFraction: Double { unsharedRows == 0 ? 0 : 1 - Double(sharedRows) / Double(unsharedRows) }
}
