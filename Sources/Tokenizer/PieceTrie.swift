/// A byte trie over vocabulary pieces for the Viterbi lattice: from a start
/// position it yields every piece that is a prefix of the remaining bytes,
/// shortest first (the order both references visit them in, which decides ties).
///
/// Layout: node 0 is the root; children of a node are a contiguous run of
/// `edgeBytes`/`edgeTargets` sorted by byte. The root's children are also
/// indexed by a 256-entry table, since almost every lookup starts there.
struct PieceTrie: Sendable {
    private var childStart: [Int32] = [0]      // [nodes]  first edge of the node
    private var childCount: [Int32] = [0]      // [nodes]
    private var pieceID: [Int32] = [-1]        // [nodes]  vocabulary id ending here, or -1
    private var edgeBytes: [UInt8] = []        // [edges]
    private var edgeTargets: [Int32] = []      // [edges]
    private var rootTable = [Int32](repeating: -1, count: 256)

    /// Builds the trie from (piece bytes, id); later duplicates of a piece are ignored.
    init(pieces: [(bytes: [UInt8], id: Int32)]) {
        // Build with dictionaries, then freeze into sorted flat arrays.
        var children: [[UInt8: Int32]] = [[:]]
        var ids: [Int32] = [-1]
        for (bytes, id) in pieces where !bytes.isEmpty {
            var node = 0
            for byte in bytes {
                if let next = children[node][byte] {
                    node = Int(next)
                } else {
                    children.append([:])
                    ids.append(-1)
                    let next = Int32(children.count - 1)
                    children[node][byte] = next
                    node = Int(next)
                }
            }
            if ids[node] < 0 { ids[node] = id }
        }
        childStart = []
        childCount = []
        for node in children.indices {
            childStart.append(Int32(edgeBytes.count))
            let sorted = children[node].sorted { $0.key < $1.key }
            childCount.append(Int32(sorted.count))
            for (byte, target) in sorted {
                edgeBytes.append(byte)
                edgeTargets.append(target)
            }
        }
        pieceID = ids
        for (byte, target) in children[0] { rootTable[Int(byte)] = target }
    }

    @inline(__always)
    private func child(_ node: Int, _ byte: UInt8) -> Int {
        if node == 0 { return Int(rootTable[Int(byte)]) }
        var low = Int(childStart[node]), high = low + Int(childCount[node]) - 1
        while low <= high {
            let mid = (low + high) >> 1
            let b = edgeBytes[mid]
            if b == byte { return Int(edgeTargets[mid]) }
            if b < byte { low = mid + 1 } else { high = mid - 1 }
        }
        return -1
    }

    /// Calls visit(length, id) for every piece that is a prefix of bytes[start..<end].
    @inline(__always)
    func prefixes(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, _ visit: (Int, Int32) -> Void) {
        var node = 0
        var i = start
        while i < end {
            node = child(node, bytes[i])
            if node < 0 { return }
            i += 1
            let id = pieceID[node]
            if id >= 0 { visit(i - start, id) }
        }
    }
}
