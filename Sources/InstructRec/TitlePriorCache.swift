import Foundation

/// The title priors of one model and template set: log P(title | the template with
/// an empty context), which depends on nothing a request carries but the title, so a
/// service computes each once. Least recently used entries go first when either bound
/// (entries, bytes) is reached. Thread-safe: planning threads look up, workers insert.
///
/// Keys are (prior instruction tokens, title tokens, reduction). The prior instruction
/// is interned: every title of a template shares one small integer instead of a copy
/// of its tokens, so an entry costs its title tokens plus a fixed overhead.
public final class TitlePriorCache: @unchecked Sendable {
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var evictions = 0
        public var entries = 0
        public var bytes = 0

        public init() {}
    }

    struct Key: Hashable {
        var instruction: Int
        var title: [Int32]
        var reduction: ScoreReduction
    }

    /// One slot of the recency list (a doubly linked list through `slots` indices).
    private struct Slot {
        var key: Key
        var value: Float
        var bytes: Int
        var newer: Int
        var older: Int
    }

    public let maxEntries: Int
    public let maxBytes: Int
    private let lock = NSLock()
    private var index: [Key: Int] = [:]
    private var slots: [Slot] = []
    private var free: [Int] = []
    /// most and least recently used slots, -1 when empty
    private var newest = -1
    private var oldest = -1
    private var instructions: [[Int32]: Int] = [:]
    private var statistics = Statistics()

    /// What one entry is charged: its title tokens, the key and slot overhead, and the index's share.
    static func cost(titleTokens: Int) -> Int { 4 * titleTokens + 96 }

    public init(maxEntries: Int = 200_000, maxBytes: Int = 64 << 20) {
        self.maxEntries = max(0, maxEntries)
        self.maxBytes = max(0, maxBytes)
    }

    /// The cached priors of `titles` under `instruction` (nil where missing); counts hits and misses.
    public func lookup(instruction: [Int32], titles: [[Int32]], reduction: ScoreReduction) -> [Float?] {
        lock.lock(); defer { lock.unlock() }
        let id = internedLocked(instruction)
        return titles.map { title in
            guard let slot = index[Key(instruction: id, title: title, reduction: reduction)] else {
                statistics.misses += 1
                return nil
            }
            statistics.hits += 1
            touchLocked(slot)
            return slots[slot].value
        }
    }

    /// Stores priors just computed (a key already present is refreshed, not duplicated).
    public func insert(instruction: [Int32], titles: [[Int32]], priors: [Float], reduction: ScoreReduction) {
        guard maxEntries > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        let id = internedLocked(instruction)
        for (title, prior) in zip(titles, priors) {
            let key = Key(instruction: id, title: title, reduction: reduction)
            if let slot = index[key] {
                slots[slot].value = prior
                touchLocked(slot)
                continue
            }
            let bytes = Self.cost(titleTokens: title.count)
            guard bytes <= maxBytes else { continue }
            while statistics.entries >= maxEntries || statistics.bytes + bytes > maxBytes, oldest >= 0 {
                evictLocked(oldest)
            }
            let slot: Int
            let fresh = Slot(key: key, value: prior, bytes: bytes, newer: -1, older: newest)
            if let reused = free.popLast() { slots[reused] = fresh; slot = reused } else { slots.append(fresh); slot = slots.count - 1 }
            if newest >= 0 { slots[newest].newer = slot }
            newest = slot
            if oldest < 0 { oldest = slot }
            index[key] = slot
            statistics.entries += 1
            statistics.bytes += bytes
        }
    }

    public var current: Statistics { lock.lock(); defer { lock.unlock() }; return statistics }

    private func internedLocked(_ instruction: [Int32]) -> Int {
        if let id = instructions[instruction] { return id }
        let id = instructions.count
        instructions[instruction] = id
        return id
    }

    /// Moves a slot to the newest end.
    private func touchLocked(_ slot: Int) {
        guard slot != newest else { return }
        unlinkLocked(slot)
        slots[slot].older = newest
        slots[slot].newer = -1
        if newest >= 0 { slots[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private func unlinkLocked(_ slot: Int) {
        let (newer, older) = (slots[slot].newer, slots[slot].older)
        if newer >= 0 { slots[newer].older = older } else { newest = older }
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
    }

    private func evictLocked(_ slot: Int) {
        unlinkLocked(slot)
        index[slots[slot].key] = nil
        statistics.entries -= 1
        statistics.bytes -= slots[slot].bytes
        statistics.evictions += 1
        slots[slot].key.title = []
        free.append(slot)
    }
}
