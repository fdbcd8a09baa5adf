import Foundation

/// Inter-request parallelism inside one call: when a call carries several
/// inputs (a batch of requests, or one request's several instruction groups)
/// that split evenly, each of the scorer's threads scores its own share as
/// its own packed batch, single-threaded, on its own lane scorer (own scratch,
/// the same weights), instead of every product of one packed batch being
/// split over the threads.
///
/// Why: on a CPU a request's time grows with its rows, so packing requests
/// together saves only per-pass costs (a few percent), while a request run
/// on all threads pays, in every layer, a fork/join per product and per
/// attention loop and the threads' uneven shares of small products. Whole
/// requests per thread pay neither: the threads meet once per call. A lone
/// input, or a call that would split unevenly (one 100-candidate request
/// beside a 5-candidate one), keeps the intra-request threading, so a lone
/// request's latency is unchanged.
extension T5Scorer {
    /// How much longer than a perfect split the busiest lane may be before
    /// the call runs as one packed batch over all threads instead. A lane
    /// runs on one thread, the packed batch on all of them at roughly 85-95 %
    /// efficiency (two threads, measured by `instructrec-bench engine
    /// --threads 1|2`), so lanes win while the busiest one is within
    /// 1/efficiency of the mean; measured on Zen, two flan-t5-small inputs
    /// 1.11x apart ran 6 % slower in lanes, eight balanced ones 11 % faster.
    static let laneImbalanceLimit = 1.1

    /// Inputs (indices into `costs`) per lane, or nil when the call should run
    /// as one packed batch: fewer than two inputs or lanes, or no split whose
    /// busiest lane is within `laneImbalanceLimit` of the mean. Longest
    /// processing time first (each input, largest first, to the least loaded
    /// lane), then each lane's inputs back in call order.
    static func lanes(costs: [Int], lanes count: Int) -> [[Int]]? {
        let lanes = min(count, costs.count)
        guard lanes >= 2 else { return nil }
        var load = [Int](repeating: 0, count: lanes)
        var assigned = [[Int]](repeating: [], count: lanes)
        for i in costs.indices.sorted(by: { costs[$0] != costs[$1] ? costs[$0] > costs[$1] : $0 < $1 }) {
            let lane = load.indices.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 } ?? 0
            load[lane] += costs[i]
            assigned[lane].append(i)
        }
        let mean = Double(load.reduce(0, +)) / Double(lanes)
        guard Double(load.max() ?? 0) <= laneImbalanceLimit * mean else { return nil }
        return assigned.map { $0.sorted() }
    }

    /// Scores `scored` (indices into `inputs`, all valid, each with candidates)
    /// on the lanes, concurrently, writing each input's result in place.
    /// Each lane scores its share with `run(batch:)` (its own passes).
    func runLanes(_ lanes: [[Int]], inputs: [ScoringInput], into results: inout [Result<ScoreResult, T5Error>]) {
        let scorers = laneScorers(lanes.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = buffer   // lanes write disjoint indices
            Parallel.forEach(lanes.count, threads: lanes.count) { range, _ in
                for lane in range {
                    let share = lanes[lane]
                    let scored = scorers[lane].run(batch: share.map { inputs[$0] })
                    for (k, i) in share.enumerated() { out[i] = scored[k] }
                }
            }
        }
    }
}
