/// A read-only darts-clone double-array trie, the structure SentencePiece
/// stores inside `precompiled_charsmap`.
///
/// Each 32-bit unit packs: bit 8 has_leaf, bit 9 offset scaling, bits 10-31
/// offset, and label (low 8 bits plus bit 31, so a leaf unit never matches a
/// label). A leaf unit's low 31 bits are the value: here, the byte offset of
/// the replacement string in the charsmap's string pool.
struct DoubleArrayTrie: Sendable {
    let units: [UInt32]

    @inline(__always) private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ unit: UInt32) -> Int { Int(unit & 0x7FFF_FFFF) }
    @inline(__always) private static func label(_ unit: UInt32) -> UInt32 { unit & 0x8000_00FF }
    @inline(__always) private static func offset(_ unit: UInt32) -> Int {
        Int((unit >> 10) << ((unit & (1 << 9)) >> 6))
    }

    /// Visits every key that is a prefix of bytes[start..<end], shortest first,
    /// with (key length, value). `visit` returns false to stop.
    /// Units outside the array end the search (a corrupt trie cannot crash us).
    @inline(__always)
    func commonPrefixSearch(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                            _ visit: (Int, Int) -> Bool) {
        guard let first = units.first else { return }
        var position = DoubleArrayTrie.offset(first)
        var i = start
        while i < end {
            let byte = bytes[i]
            position ^= Int(byte)
            guard position >= 0, position < units.count else { return }
            let unit = units[position]
            if DoubleArrayTrie.label(unit) != UInt32(byte) { return }
            position ^= DoubleArrayTrie.offset(unit)
            if DoubleArrayTrie.hasLeaf(unit) {
                guard position >= 0, position < units.count else { return }
                if !visit(i - start + 1, DoubleArrayTrie.value(units[position])) { return }
            }
            i += 1
        }
    }
}
