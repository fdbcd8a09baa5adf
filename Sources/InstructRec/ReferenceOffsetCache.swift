import Foundation

/// The relevance offsets of the contexts seen lately (`RelevanceReference`): a query context's offset depends on
/// its instruction and its scoring only, so a retriever that asks the same query again (paging, a refresh, a
/// second candidate source) pays for the reference titles once. Bounded in entries, oldest first out (a FIFO:
/// repeats come close together, and a ring keeps the bookkeeping to one array).
public final class ReferenceOffsetCache: @unchecked Sendable {
    struct Key: Hashable {
        /// the instruction's tokens (the one group of a candidate-free plan)
        var instruction: [Int32]
        var mode: Scoring.Mode
        var priorWeight: Float
    }

    public let maxEntries: Int
    private let lock = NSLock()
    private var offsets: [Key: Float] = [:]
    /// insertion order, as a ring of `maxEntries` slots
    private var order: [Key] = []
    private var next = 0

    public init(maxEntries: Int = 4096) {
        self.maxEntries = max(0, maxEntries)
    }

    func offset(for key: Key) -> Float? {
        lock.lock()
        defer { lock.unlock() }
        return offsets[key]
    }

    func insert(_ offset: Float, for key: Key) {
        guard maxEntries > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        guard offsets[key] == nil else { return }
        if order.count < maxEntries {
            order.append(key)
        } else {
            offsets[order[next]] = nil
            order[next] = key
            next = (next + 1) % maxEntries
        }
        offsets[key] = offset
    }

    /// Offsets held.
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return offsets.count
    }
}
