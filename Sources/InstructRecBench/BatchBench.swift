import Foundation
import Randomness
import T5

/// `bench --workloads batch-RxN`: the engine's cross-request batching. R
/// requests (each its own instruction, of lengths spread over 60–100 % of
/// `--instruction-tokens`, and N random titles) are scored as one
/// `run(batch:)` and one by one on the same scorer, the two interleaved
/// iteration by iteration (alternating which goes first); medians and the
/// median of the per-iteration ratios. No HTTP, no queue: the ceiling the
/// queue's batching can reach on this machine.
enum BatchBench {
    static func run(name: String, requests: Int, candidates: Int, scorer: T5Scorer, config: T5Config,
                    instructionTokens: Int, titleTokens: Int, iterations: Int, warmup: Int) {
        var rng = SplitMix64(seed: 3)
        let ids = BenchTokens.ids(config)
        let inputs = (0..<requests).map { r in
            let spread = requests > 1 ? Double(r) / Double(requests - 1) : 1
            let length = max(2, Int(Double(instructionTokens) * (0.6 + 0.4 * spread)))
            let instruction = (0..<(length - 1)).map { _ in Int32.random(in: ids, using: &rng) } + [config.eosTokenID]
            let titles = (0..<candidates).map { _ in (0..<titleTokens).map { _ in Int32.random(in: ids, using: &rng) } }
            return ScoringInput(instruction: instruction, candidates: titles)
        }
        func batched() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = scorer.run(batch: inputs)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        func oneByOne() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            for input in inputs { _ = scorer.run(batch: [input]) }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        for _ in 0..<warmup { _ = batched(); _ = oneByOne() }
        var together: [Double] = [], alone: [Double] = [], ratios: [Double] = []
        for i in 0..<max(1, iterations) {
            let (b, o): (Double, Double)
            if i % 2 == 0 { b = batched(); o = oneByOne() } else { o = oneByOne(); b = batched() }
            together.append(b)
            alone.append(o)
            ratios.append(o / b)
        }
        let tokens = inputs.reduce(0) { $0 + $1.instruction.count }
        print(String(format: "  %@ (%d instruction tokens in all, %d titles of %d tokens each): one batch median %.1f ms (%.1f req/s), one by one %.1f ms (%.1f req/s); speed-up, median of %d interleaved pairs: %.2fx",
                     name, tokens, candidates, titleTokens, median(together) * 1e3, Double(requests) / median(together),
                     median(alone) * 1e3, Double(requests) / median(alone), ratios.count, median(ratios)))
    }
}
