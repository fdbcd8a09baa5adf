extension Parallel {
    /// Like `forEach`, but the contiguous ranges hold about equal total cost
    /// instead of equal counts: used where items differ in size (one
    /// attention head of a 400-token instruction beside one of a 20-token
    /// instruction in the same batch). Equal costs over a multiple of
    /// `threads` items split exactly as `forEach` does.
    static func forEach(costs: [Double], threads: Int, _ body: (Range<Int>, Int) -> Void) {
        let count = costs.count
        let workers = min(max(threads, 1), count)
        if workers <= 1 { body(0..<count, 0); return }
        let total = costs.reduce(0, +)
        // bounds[w] ..< bounds[w + 1] is worker w's range; a boundary falls
        // after the item whose running cost first reaches w/workers of the total.
        var bounds = [0]
        var running = 0.0
        for (i, cost) in costs.enumerated() {
            running += cost
            while bounds.count < workers && running >= total * Double(bounds.count) / Double(workers) {
                bounds.append(i + 1)
            }
        }
        while bounds.count < workers { bounds.append(count) }
        bounds.append(count)
        forEach(workers, threads: workers) { range, _ in
            for w in range where bounds[w] < bounds[w + 1] { body(bounds[w]..<bounds[w + 1], w) }
        }
    }
}
