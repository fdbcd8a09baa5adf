import ArgumentParser
import Foundation
import T5

/// `instructrec bench`: engine latency and throughput on random weights with
/// Flan-T5 shapes, beside the plain cblas_sgemm ceiling measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the T5 scorer on random weights with Flan-T5 shapes (no checkpoint needed)."
    )

    @Option(help: "Comma-separated Flan-T5 sizes (small, base, large, xl) or paths to config.json files.")
    var models = "small,base"

    @Option(help: "Comma-separated workloads: rerank-20, rerank-100.")
    var workloads = "rerank-20,rerank-100"

    @Option(help: "Timed requests per workload (after warm-up).")
    var iterations = 10

    @Option(help: "Warm-up requests per workload.")
    var warmup = 2

    @Option(help: "Threads for OpenBLAS and the engine's own loops.")
    var threads = 2

    @Option(help: "Instruction length in tokens.")
    var instructionTokens = 384

    @Option(help: "Title tokens per candidate (</s> is added).")
    var titleTokens = 15

    @Option(help: "Comma-separated sizes for the end-to-end HTTP rerank-20 figure (empty: none).")
    var endToEnd = "small"

    func run() throws {
        GEMM.setThreads(threads)
        let coretype = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)"
        print("BLAS: \(GEMM.backendDescription); OPENBLAS_CORETYPE=\(coretype); threads=\(threads)")
        try BLASSelfCheck.run()
        for model in models.split(separator: ",").map(String.init) {
            let config = try resolveConfig(model)
            print("\n== \(model): d_model=\(config.dModel) d_ff=\(config.dFF) layers=\(config.numLayers)+\(config.numDecoderLayers) heads=\(config.numHeads) vocab=\(config.vocabSize)")
            // The ceiling is plain cblas_sgemm with OpenBLAS's own threads.
            GEMM.setThreads(threads)
            let ceiling = sgemmCeiling(config: config, candidates: 20)
            let weights = T5Weights(randomWithConfig: config)
            let scorer = T5Scorer(weights: weights, threads: threads)
            for workload in workloads.split(separator: ",").map(String.init) {
                guard let count = Int(workload.replacingOccurrences(of: "rerank-", with: "")), count > 0 else {
                    throw ValidationError("unknown workload '\(workload)' (use rerank-N)")
                }
                try runWorkload(workload, candidates: count, scorer: scorer, config: config, ceiling: ceiling)
            }
            if endToEnd.split(separator: ",").contains(Substring(model)) {
                try EndToEndBench.run(config: config, threads: threads, iterations: iterations, warmup: warmup)
            }
        }
    }

    func resolveConfig(_ name: String) throws -> T5Config {
        let shared = URL(fileURLWithPath: "../shared/data/t5/flan-t5-\(name)/config.json")
        if FileManager.default.fileExists(atPath: shared.path) { return try T5Config(contentsOf: shared) }
        if let builtIn = T5Config.flanT5(name) { return builtIn }
        return try T5Config(contentsOf: URL(fileURLWithPath: name))
    }

    /// GFLOP/s of plain cblas_sgemm on the shapes that dominate a request:
    /// the encoder FFN (L x d_model x ffRows) and the lm_head (N x d_model x vocab).
    func sgemmCeiling(config c: T5Config, candidates: Int) -> Double {
        let ffRows = c.isGatedActivation ? 2 * c.dFF : c.dFF
        let shapes = [(instructionTokens, ffRows, c.dModel), (candidates * (titleTokens + 1), c.vocabSize, c.dModel)]
        var best = 0.0
        for (m, n, k) in shapes {
            let a = Tensor(shape: [m, k]), b = Tensor(shape: [n, k]), out = Tensor(shape: [m, n])
            for i in 0..<a.count { a[i] = Float(i % 7) * 0.01 }
            for i in 0..<b.count { b[i] = Float(i % 5) * 0.01 }
            let times = measure(repeats: 7) { GEMM.benchmarkMultiply(m: m, n: n, k: k, a: a, b: b, c: out) }
            let gflops = 2 * Double(m) * Double(n) * Double(k) / median(times) / 1e9
            best = max(best, gflops)
            print(String(format: "  sgemm %5dx%5dx%5d (MxNxK): %7.1f GFLOP/s", m, n, k, gflops))
        }
        return best
    }

    func runWorkload(_ name: String, candidates count: Int, scorer: T5Scorer, config: T5Config, ceiling: Double) throws {
        var rng = SplitMix64(seed: 1)
        let instruction = (0..<instructionTokens).map { _ in Int32.random(in: 3..<32000, using: &rng) }
        let candidates = (0..<count).map { _ in (0..<titleTokens).map { _ in Int32.random(in: 3..<32000, using: &rng) } }
        for _ in 0..<warmup { _ = try scorer.score(instruction: instruction, candidates: candidates) }
        var encode: [Double] = []
        var failure: Error?
        let times = measure(repeats: iterations) {
            do {
                let result = try scorer.run(instruction: instruction, candidates: candidates)
                encode.append(result.encodeSeconds)
            } catch { failure = error }
        }
        if let failure { throw failure }
        let flops = FlopCount.scoring(config: config, instructionTokens: instructionTokens,
                                      candidateLengths: Array(repeating: titleTokens, count: count))
        let med = median(times)
        let gflops = flops / med / 1e9
        print(String(format: "  %@: median %.1f ms  p90 %.1f ms  (encode %.1f ms)  %.0f candidates/s  %.1f GFLOP/s = %.0f%% of the sgemm ceiling %.1f  [%.1f GFLOP per request]",
                     name, med * 1e3, percentile(times, 0.9) * 1e3, median(encode) * 1e3, Double(count) / med,
                     gflops, 100 * gflops / ceiling, ceiling, flops / 1e9))
    }
}

func measure(repeats: Int, _ body: () -> Void) -> [Double] {
    (0..<max(1, repeats)).map { _ in
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let rank = p * Double(sorted.count - 1)
    let low = Int(rank.rounded(.down)), high = Int(rank.rounded(.up))
    return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
}
