import Foundation

/// The cross-attention keys and values of instructions already encoded, so a context asked again — a user's
/// history paged or refreshed with other candidates, the empty context of every calibrated prior — skips its
/// encoder pass and its K/V products (about half a flan-t5-small request's flops with ten candidates).
///
/// - **Key**: the instruction's exact token ids. One cache belongs to one engine (one set of weights in one
///   dtype), so a reload, or another model, has another cache and never meets a stale entry.
/// - **Value**: every decoder layer's cross K|V rows of the instruction, [layers, L, 2*inner], exactly the floats
///   the pass that filled it computed: a hit decodes against the same bits as that pass did.
/// - **Bounded in bytes**, least recently used out first; an entry larger than the whole budget is not kept.
/// - **One computation per context**: a pass that needs a context another pass is computing waits for it
///   (`claim`), instead of computing it twice.
public final class ContextCache: @unchecked Sendable {
    /// One instruction's cross K|V, layer after layer: [layers, L, 2*inner] (or a pointwise input's readout
    /// logits). Owned memory at a fixed address, so a pass reads (and its miss writes) it in place.
    public final class Entry: @unchecked Sendable {
        let data: UnsafeMutablePointer<Float>
        let count: Int
        /// uninitialised: the pass that computes it writes every float before it is stored
        init(count: Int) {
            self.count = count
            data = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
        }
        convenience init(_ values: [Float]) {
            self.init(count: values.count)
            values.withUnsafeBufferPointer { if let base = $0.baseAddress { data.update(from: base, count: values.count) } }
        }
        deinit { data.deallocate() }
        var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }
        var bytes: Int { count * MemoryLayout<Float>.size + 64 }
    }

    public struct Statistics: Sendable, Equatable {
        public var hits = 0, misses = 0, evictions = 0, entries = 0, bytes = 0, capacityBytes = 0
    }

    /// What a pass does about one instruction.
    enum Claim {
        case hit(Entry)
        /// this pass computes it and must `fill` or `release` it
        case compute
    }

    public let capacityBytes: Int
    private let condition = NSCondition()
    private var entries: [[Int32]: (entry: Entry, lastUse: UInt64)] = [:]
    private var computing: Set<[Int32]> = []
    private var clock: UInt64 = 0
    private var statistics = Statistics()

    public init(capacityBytes: Int) {
        self.capacityBytes = max(0, capacityBytes)
        statistics.capacityBytes = self.capacityBytes
    }

    public var current: Statistics { condition.lock(); defer { condition.unlock() }; return statistics }

    /// For each instruction: its entry, or the duty to compute it. An instruction another pass is computing is
    /// waited for (then it is a hit, or, if that pass gave up, this one computes it).
    func claim(_ instructions: [[Int32]]) -> [Claim] {
        condition.lock()
        defer { condition.unlock() }
        var claims: [Claim] = []
        var claimedHere: Set<[Int32]> = []
        for instruction in instructions {
            while true {
                if let found = entries[instruction] {
                    clock += 1
                    entries[instruction] = (found.entry, clock)
                    statistics.hits += 1
                    claims.append(.hit(found.entry))
                    break
                }
                // The same instruction twice in one pass: computed once there (the pass reuses its rows).
                // Another pass computing it: wait for it only while this pass holds no claim of its own, so two
                // passes never wait on each other (a pass that holds one computes the instruction too).
                if claimedHere.contains(instruction) || !computing.contains(instruction) || !claimedHere.isEmpty {
                    if !claimedHere.contains(instruction) {
                        computing.insert(instruction)
                        claimedHere.insert(instruction)
                        statistics.misses += 1
                    }
                    claims.append(.compute)
                    break
                }
                condition.wait()
            }
        }
        return claims
    }

    /// Stores what a claimed instruction's pass computed and wakes the passes waiting for it.
    func fill(_ instruction: [Int32], _ entry: Entry) {
        condition.lock()
        defer { condition.unlock() }
        computing.remove(instruction)
        condition.broadcast()
        guard entry.bytes <= capacityBytes else { return }
        clock += 1
        if let old = entries[instruction] { statistics.bytes -= old.entry.bytes; statistics.entries -= 1 }
        entries[instruction] = (entry, clock)
        statistics.bytes += entry.bytes
        statistics.entries += 1
        while statistics.bytes > capacityBytes, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            entries[oldest.key] = nil
            statistics.bytes -= oldest.value.entry.bytes
            statistics.entries -= 1
            statistics.evictions += 1
        }
    }

    /// A claim given up without a value: a waiting pass computes the instruction itself.
    func release(_ instruction: [Int32]) {
        condition.lock()
        computing.remove(instruction)
        condition.broadcast()
        condition.unlock()
    }
}
