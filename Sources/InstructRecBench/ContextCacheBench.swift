import Foundation
import Randomness
import T5

/// The context cache on one model's shapes, through the engine a worker runs (`T5Scorer.run(batch:)`), each
/// pair of calls interleaved so machine drift hits both sides alike:
///
/// - **repeated vs new**: a candidate-free instruction of about ten history titles (~190 tokens) with ten
///   candidates; "repeated" asks the previous call's instruction again with other candidates (a hit),
///   "new" a fresh instruction (a miss). Reported: each median and repeated / new.
/// - **a miss's cost**: new instructions on a scorer with the cache against one without it (miss / off).
enum ContextCacheBench {
    static func run(config: T5Config, weights: T5Weights, threads: Int, iterations: Int) throws {
        let cache = ContextCache(capacityBytes: 256 << 20)
        let cached = T5Scorer(weights: weights, threads: threads), plain = T5Scorer(weights: weights, threads: threads)
        cached.contextCache = cache
        var rng = SplitMix64(seed: 41)
        let ids = BenchTokens.ids(config)
        func tokens(_ count: Int) -> [Int32] { (0..<count).map { _ in Int32.random(in: ids, using: &rng) } }
        func candidates() -> [[Int32]] { (0..<10).map { _ in tokens(15) } }
        func time(_ scorer: T5Scorer, _ input: ScoringInput) throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try scorer.run(batch: [input])[0].get()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        let instructionTokens = 190
        var repeated: [Double] = [], new: [Double] = [], miss: [Double] = [], off: [Double] = []
        var worst: Float = 0
        for round in 0..<(iterations + 2) {
            let context = tokens(instructionTokens - 1) + [1]
            // new: a context never seen (a miss), then repeated: the same context with other candidates (a hit)
            let newTime = try time(cached, ScoringInput(instruction: context, candidates: candidates()))
            let again = ScoringInput(instruction: context, candidates: candidates())
            let repeatedTime = try time(cached, again)
            // a miss against the cache turned off, on another fresh context
            let other = tokens(instructionTokens - 1) + [1], otherCandidates = candidates()
            let missTime = try time(cached, ScoringInput(instruction: other, candidates: otherCandidates))
            let offTime = try time(plain, ScoringInput(instruction: other, candidates: otherCandidates))
            if round == 0 {
                // The warm answer against a scorer without a cache.
                let warm = try cached.run(batch: [again])[0].get().tokenLogProbabilities
                let fresh = try plain.run(batch: [again])[0].get().tokenLogProbabilities
                for (a, b) in zip(warm.joined(), fresh.joined()) { worst = max(worst, abs(a - b)) }
            }
            if round < 2 { continue }   // warm-up
            new.append(newTime); repeated.append(repeatedTime); miss.append(missTime); off.append(offTime)
        }
        let s = cache.current
        print(String(format: "  context cache (%d-token candidate-free instruction, 10 candidates, %d rounds): repeated %.1f ms vs new %.1f ms = %.2fx; a miss %.1f ms vs cache off %.1f ms = %.3fx; warm vs uncached worst |Δ log p| %.1e; %d hits, %d misses, %.1f MiB held",
                     instructionTokens, iterations, median(repeated) * 1e3, median(new) * 1e3, median(repeated) / median(new),
                     median(miss) * 1e3, median(off) * 1e3, median(miss) / median(off), Double(worst), s.hits, s.misses,
                     Double(s.bytes) / 1_048_576))
    }
}
