import Foundation
import Randomness
import T5

/// `weights_dtype: int8` and `bf16` against F32 on one model's shapes: the rerank-N request (one instruction
/// of `instructionTokens`, N candidates of `titleTokens`), through the engine a worker runs, F32 and the reduced
/// types' calls interleaved so machine drift hits all alike; int8 on every kernel this CPU runs.
///
/// Reported: each median, F32 / it (the speed-up), the matrices' bytes against F32's, and what the type does
/// to the answer: the worst |Δ| of a candidate's mean token log-probability and how many of the top 10 stay
/// the top 10.
enum ReducedPrecisionBench {
    static func run(config: T5Config, weights: T5Weights, threads: Int, iterations: Int, instructionTokens: Int,
                    candidates: [[Int32]]) throws {
        var rng = SplitMix64(seed: 7)
        let ids = BenchTokens.ids(config)
        let instruction = (0..<(instructionTokens - 1)).map { _ in Int32.random(in: ids, using: &rng) } + [1]
        let input = ScoringInput(instruction: instruction, candidates: candidates)
        let f32 = T5Scorer(weights: weights, threads: threads)
        let kernels = Int8Kernel.available.filter { $0 != .scalar || Int8Kernel.fastest == .scalar }
        let quantized = kernels.map { weights.quantized(kernel: $0) }
        let bf16Weights = weights.roundedToBF16()
        let names = kernels.map { "int8 \($0.rawValue)" } + ["bf16 " + (bf16Weights.bf16Products == true ? "avx512_bf16" : "widened to F32")]
        let int8 = (quantized + [bf16Weights]).map { T5Scorer(weights: $0, threads: threads) }
        func time(_ scorer: T5Scorer) throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try scorer.run(batch: [input])[0].get()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var f32Times: [Double] = [], int8Times = [[Double]](repeating: [], count: int8.count)
        for round in 0..<(iterations + 2) {
            let reference = try time(f32)
            let others = try int8.map { try time($0) }
            if round < 2 { continue }   // warm-up
            f32Times.append(reference)
            for (k, t) in others.enumerated() { int8Times[k].append(t) }
        }
        let exact = try f32.run(batch: [input])[0].get().means
        func top10(_ scores: [Float]) -> Set<Int> { Set(scores.indices.sorted { scores[$0] > scores[$1] }.prefix(10)) }
        print(String(format: "  reduced precision (rerank-%d, %d-token instruction, %d rounds, interleaved): F32 %.1f ms, %.1f MiB of matrices",
                     candidates.count, instructionTokens, iterations, median(f32Times) * 1e3, Double(weights.matrixBytes) / 1_048_576))
        for (k, name) in names.enumerated() {
            let approximate = try int8[k].run(batch: [input])[0].get().means
            let worst = zip(exact, approximate).map { abs($0 - $1) }.max() ?? 0
            let kept = top10(exact).intersection(top10(approximate)).count
            let bytes = int8[k].weights.matrixBytes
            print(String(format: "    %@: %.1f ms = %.2fx faster than F32; matrices %.3f of F32's bytes; worst |Δ mean log p| %.4f; top 10 kept %d of %d",
                         name, median(int8Times[k]) * 1e3, median(f32Times) / median(int8Times[k]),
                         Double(bytes) / Double(weights.matrixBytes), Double(worst), kept, min(10, candidates.count)))
        }
    }
}
