import Foundation
import Randomness
import T5

/// One request phase by phase (`PhaseClock`): for each engine phase its median wall time over the runs, its
/// floating-point work (2·M·N·K, with the decoder's rows as the prefix tree computes them), the time that work
/// would take at the sgemm ceiling measured beside it, and the share of that bound reached. What the engine
/// does outside the products (norms, softmax, activations, the log-sum-exp, copies, threads meeting) shows as
/// the distance to the bound.
enum PhaseBench {
    static func run(config c: T5Config, weights: T5Weights, threads: Int, iterations: Int, instructionTokens L: Int,
                    candidates: [[Int32]], ceiling: Double) throws {
        let scorer = T5Scorer(weights: weights, threads: threads)
        let clock = PhaseClock()
        scorer.phaseClock = clock
        var rng = SplitMix64(seed: 3)
        let instruction = (0..<L).map { _ in Int32.random(in: BenchTokens.ids(c), using: &rng) }
        var samples: [PhaseClock.Phase: [Double]] = [:], totals: [Double] = []
        for round in 0..<(iterations + 2) {
            clock.reset()
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try scorer.run(instruction: instruction, candidates: candidates)
            let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if round < 2 { continue }
            totals.append(total)
            for phase in PhaseClock.Phase.allCases { samples[phase, default: []].append(clock.seconds[phase] ?? 0) }
        }
        let flops = work(c, instructionTokens: L, candidates: candidates)
        print(String(format: "  phases of one request (%d instruction tokens, %d candidates, %d threads; median of %d; sgemm ceiling %.1f GFLOP/s):",
                     L, candidates.count, threads, iterations, ceiling))
        print("    | phase | ms | GFLOP | ms at the ceiling | of the bound |")
        print("    |---|---|---|---|---|")
        var boundTotal = 0.0
        for phase in PhaseClock.Phase.allCases {
            let ms = median(samples[phase] ?? [0]) * 1e3, gflop = (flops[phase] ?? 0) / 1e9, bound = gflop / ceiling * 1e3
            boundTotal += bound
            print(String(format: "    | %@ | %.1f | %.2f | %.1f | %.0f%% |", phase.rawValue, ms, gflop, bound, ms > 0 ? 100 * bound / ms : 0))
        }
        let total = median(totals) * 1e3
        print(String(format: "    | the pass (ahead of the phases: validation, the prefix tree, scratch) | %.1f | %.2f | %.1f | %.0f%% |",
                     total, flops.values.reduce(0, +) / 1e9, boundTotal, 100 * boundTotal / total))
    }

    /// Each phase's 2·M·N·K, the decoder rows being the prefix tree's nodes (as the engine runs them).
    static func work(_ c: T5Config, instructionTokens L: Int, candidates: [[Int32]]) -> [PhaseClock.Phase: Double] {
        let d = Double(c.dModel), inner = Double(c.innerDim), dkv = Double(c.dKV), heads = Double(c.numHeads)
        let ffRows = Double(c.isGatedActivation ? 2 * c.dFF : c.dFF), ff = Double(c.dFF), l = Double(L)
        let sharing = DecoderSharing(candidates: candidates)
        let n = Double(sharing.sharedRows), layers = Double(c.numDecoderLayers)
        let encoderLayer = 2 * l * 3 * inner * d + 2 * 2 * l * l * dkv * heads + 2 * l * d * inner + 2 * l * ffRows * d + 2 * l * d * ff
        return [
            .encoder: Double(c.numLayers) * encoderLayer,
            .crossKV: 2 * l * layers * 2 * inner * d,
            .selfAttention: layers * (2 * n * 3 * inner * d + 2 * n * d * inner) + layers * 2 * 2 * Double(sharing.sharedAttentionPairs) * dkv * heads,
            .crossAttention: layers * (2 * n * inner * d + 2 * 2 * n * l * dkv * heads + 2 * n * d * inner),
            .feedForward: layers * (2 * n * ffRows * d + 2 * n * d * ff),
            .vocabulary: 2 * n * Double(c.vocabSize) * d,
        ]
    }
}
