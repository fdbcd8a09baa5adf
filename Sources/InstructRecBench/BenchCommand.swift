import ArgumentParser
import Foundation
import Randomness
import T5

/// `instructrec-bench engine`: engine latency and throughput on random weights with
/// Flan-T5 shapes, beside the plain cblas_sgemm ceiling measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Benchmark the T5 scorer on random weights with Flan-T5 shapes (no checkpoint needed)."
    )

    @Option(help: "Comma-separated Flan-T5 sizes (small, base, large, xl), paths to config.json files (random weights), or checkpoint directories (their weights, kept in the checkpoint's dtype).")
    var models = "small,base"

    @Option(help: "Comma-separated workloads: rerank-N (random ids), games-N (the first N candidates of real SASRec pools, with Games titles), batch-RxN (R requests of N random titles scored as one engine batch and one by one).")
    var workloads = "rerank-20,rerank-100"

    @Option(help: "Prefix sharing in the decoder: both (interleaved, side by side), on, or off (the old packed batch).")
    var sharing = "both"

    @Option(help: "Directory with Games.item, Games.sasrec and Games.bm25 for the games-N workloads (not committed).")
    var gamesData = "../shared/data/games"

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

    @Option(help: "With --end-to-end: write its ids and medians here (JSON) for scripts/bench/bench_hf_t5.py --ids.")
    var endToEndJson: String?

    @Option(help: "Comma-separated sizes for the phase table of one rerank-20 request (empty: none).")
    var phases = "small"

    @Option(help: "Comma-separated sizes for the context cache figures: a repeated context against a new one, a miss against the cache off (empty: none).")
    var contextCache = "small"

    @Option(help: "Comma-separated sizes for the reduced-precision figure: the rerank-20 request in F32, in int8 on each kernel this CPU runs and in bf16, interleaved (empty: none).")
    var reducedPrecision = "small"

    @Option(help: "Comma-separated sizes (or checkpoint directories) for the thread-split figure: rerank-20 with the helper team against Dispatch's pool, back to back and after an idle pause (empty: none).")
    var helpers = "small,models/default"

    @Option(help: "Comma-separated sizes (or checkpoint directories) for the weight-packing figure: rerank-20 with F32 weights packed at load for OpenBLAS's kernel against cblas_sgemm on the row-major weights, interleaved (empty: none).")
    var blasPacking = "small"

    func run() throws {
        guard ["both", "on", "off"].contains(sharing) else { throw ValidationError("--sharing must be both, on or off") }
        GEMM.setThreads(threads)
        let coretype = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)"
        print("BLAS: \(BLASIdentity.current().description); OPENBLAS_CORETYPE=\(coretype); threads=\(threads)")
        try BLASSelfCheck.run()
        var games: [GamesBenchWorkload]?
        if workloads.contains("games-") {
            print("\nGames retriever pools (Flan-T5 tokenizer, titles truncated to \(GamesBenchWorkload.maxTargetTokens) tokens):")
            games = GamesBenchWorkload.load(directory: gamesData, tokenizerPath: "../shared/data/t5/tokenizer.json")
            for workload in games ?? [] {
                for count in [20, 100] { print("  " + workload.rowsReport(count: count)) }
            }
        }
        for model in models.split(separator: ",").map(String.init) {
            let config = try resolveConfig(model)
            print("\n== \(model): d_model=\(config.dModel) d_ff=\(config.dFF) layers=\(config.numLayers)+\(config.numDecoderLayers) heads=\(config.numHeads) vocab=\(config.vocabSize)")
            // The ceiling is plain cblas_sgemm with OpenBLAS's own threads.
            GEMM.setThreads(threads)
            let ceiling = sgemmCeiling(config: config, candidates: 20)
            GEMM.setThreads(1)   // the scorer runs OpenBLAS single-threaded inside its own threads
            // As served: F32 matrices packed for OpenBLAS's kernel where it can be used.
            let weights: T5Weights, rowMajor: T5Weights?
            do {
                let loaded = try checkpointDirectory(model).map { try T5Weights(directory: $0, packForBLAS: false) }
                    ?? T5Weights(randomWithConfig: config)
                weights = loaded.packedForBLAS()
                // The row-major copy is kept only for the packing figure (twice the memory: an xl model would not fit twice).
                rowMajor = blasPacking.split(separator: ",").contains(Substring(model)) ? loaded : nil
            }
            let scorer = T5Scorer(weights: weights, threads: threads)
            for workload in workloads.split(separator: ",").map(String.init) {
                if workload.hasPrefix("games-") {
                    guard let count = Int(workload.dropFirst(6)), count > 0 else {
                        throw ValidationError("unknown workload '\(workload)' (use games-N)")
                    }
                    guard let pools = games?.first(where: { $0.source == "sasrec" })?.pools, !pools.isEmpty else {
                        print("  \(workload): skipped (no Games data)")
                        continue
                    }
                    // One SASRec pool per timed request, the same pools for both paths.
                    let requests = (0..<max(iterations, warmup)).map { Array(pools[$0 % pools.count].candidates.prefix(count)) }
                    try runWorkload(workload, requests: requests, scorer: scorer, config: config, ceiling: ceiling)
                    continue
                }
                if workload.hasPrefix("batch-") {
                    let sizes = workload.dropFirst(6).split(separator: "x").compactMap { Int($0) }
                    guard sizes.count == 2, sizes[0] > 0, sizes[1] > 0 else {
                        throw ValidationError("unknown workload '\(workload)' (use batch-RxN, e.g. batch-8x20)")
                    }
                    scorer.options.sharesPrefixes = sharing != "off"
                    BatchBench.run(name: workload, requests: sizes[0], candidates: sizes[1], scorer: scorer, config: config,
                                   instructionTokens: instructionTokens, titleTokens: titleTokens,
                                   iterations: iterations, warmup: warmup)
                    continue
                }
                guard workload.hasPrefix("rerank-"), let count = Int(workload.dropFirst(7)), count > 0 else {
                    throw ValidationError("unknown workload '\(workload)' (use rerank-N, games-N or batch-RxN)")
                }
                let candidates = randomTitles(config, count: count)
                try runWorkload(workload, requests: [candidates], scorer: scorer, config: config, ceiling: ceiling)
            }
            if endToEnd.split(separator: ",").contains(Substring(model)) {
                try EndToEndBench.run(config: config, threads: threads, iterations: iterations, warmup: warmup, json: endToEndJson)
            }
            if phases.split(separator: ",").contains(Substring(model)) {
                let candidates = randomTitles(config, count: 20)
                try PhaseBench.run(config: config, weights: weights, threads: threads, iterations: max(iterations, 10),
                                   instructionTokens: instructionTokens, candidates: candidates,
                                   ceiling: ceilingNow(ceilingShapes(config: config, candidates: 20)))
            }
            if helpers.split(separator: ",").contains(Substring(model)) {
                var rng = SplitMix64(seed: 2)
                let ids = BenchTokens.ids(config)
                let candidates = randomTitles(config, count: 20)
                let instruction = (0..<(min(instructionTokens, 200) - 1)).map { _ in Int32.random(in: ids, using: &rng) } + [1]
                try HelperTeamBench.run(name: "rerank-20, \(instruction.count)-token instruction", scorer: scorer,
                                        input: ScoringInput(instruction: instruction, candidates: candidates),
                                        iterations: max(iterations, 10))
            }
            if let rowMajor {
                var rng = SplitMix64(seed: 2)
                let ids = BenchTokens.ids(config)
                let instruction = (0..<(instructionTokens - 1)).map { _ in Int32.random(in: ids, using: &rng) } + [1]
                try BLASPackingBench.run(name: "rerank-20, \(instruction.count)-token instruction", rowMajor: rowMajor,
                                         threads: threads, input: ScoringInput(instruction: instruction,
                                                                               candidates: randomTitles(config, count: 20)),
                                         iterations: max(iterations, 10))
            }
            if reducedPrecision.split(separator: ",").contains(Substring(model)) {
                let candidates = randomTitles(config, count: 20)
                try ReducedPrecisionBench.run(config: config, weights: weights, threads: threads, iterations: max(iterations, 10),
                                  instructionTokens: instructionTokens, candidates: candidates)
            }
            if contextCache.split(separator: ",").contains(Substring(model)) {
                try ContextCacheBench.run(config: config, weights: weights, threads: threads,
                                          iterations: max(iterations, 20))
            }
        }
    }

    /// `count` random titles of `titleTokens` ids each, the same for every figure of a model (seed 1).
    func randomTitles(_ config: T5Config, count: Int) -> [[Int32]] {
        var rng = SplitMix64(seed: 1)
        let ids = BenchTokens.ids(config)
        return (0..<count).map { _ in (0..<titleTokens).map { _ in Int32.random(in: ids, using: &rng) } }
    }

    func resolveConfig(_ name: String) throws -> T5Config {
        if let directory = checkpointDirectory(name) { return try T5Config(contentsOf: directory.appendingPathComponent("config.json")) }
        let shared = URL(fileURLWithPath: "../shared/data/t5/flan-t5-\(name)/config.json")
        if FileManager.default.fileExists(atPath: shared.path) { return try T5Config(contentsOf: shared) }
        if let builtIn = T5Config.flanT5(name) { return builtIn }
        return try T5Config(contentsOf: URL(fileURLWithPath: name))
    }

    /// `name` as a checkpoint directory (config.json beside model.safetensors), or nil.
    func checkpointDirectory(_ name: String) -> URL? {
        let directory = URL(fileURLWithPath: name)
        return FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.safetensors").path) ? directory : nil
    }

    func ceilingShapes(config c: T5Config, candidates: Int) -> [SgemmProduct] {
        let ffRows = c.isGatedActivation ? 2 * c.dFF : c.dFF
        return [(instructionTokens, ffRows, c.dModel), (candidates * (titleTokens + 1), c.vocabSize, c.dModel)].map { m, n, k in
            SgemmProduct(m: m, n: n, k: k)
        }
    }

    /// The sgemm ceiling now: best GFLOP/s of one run of each shape, OpenBLAS on `threads` threads.
    func ceilingNow(_ shapes: [SgemmProduct]) -> Double {
        GEMM.setThreads(threads)
        defer { GEMM.setThreads(1) }   // the scorer runs OpenBLAS single-threaded inside its own threads
        return shapes.map { s in
            let seconds = measure(repeats: 1) { s.run() }[0]
            return s.flops / seconds / 1e9
        }.max() ?? .nan
    }

    /// GFLOP/s of plain cblas_sgemm on the shapes that dominate a request:
    /// the encoder FFN (L x d_model x ffRows) and the lm_head (N x d_model x vocab).
    func sgemmCeiling(config c: T5Config, candidates: Int) -> Double {
        let ffRows = c.isGatedActivation ? 2 * c.dFF : c.dFF
        let shapes = [(instructionTokens, ffRows, c.dModel), (candidates * (titleTokens + 1), c.vocabSize, c.dModel)]
        var best = 0.0
        for (m, n, k) in shapes {
            let product = SgemmProduct(m: m, n: n, k: k)
            let times = measure(repeats: 7) { product.run() }
            let gflops = product.flops / median(times) / 1e9
            best = max(best, gflops)
            print(String(format: "  sgemm %5dx%5dx%5d (MxNxK): %7.1f GFLOP/s", m, n, k, gflops))
        }
        return best
    }

    /// Times the workload with prefix sharing on and off, interleaved request
    /// by request so drift in machine load hits both alike; medians.
    /// "% of ceiling" divides the request's nominal work (the unshared
    /// products: what the request asks for) by the time; "work done" is the
    /// GFLOP/s over the products the shared path really ran.
    func runWorkload(_ name: String, requests: [[[Int32]]], scorer: T5Scorer, config: T5Config, ceiling: Double) throws {
        var rng = SplitMix64(seed: 2)
        let instruction = (0..<instructionTokens).map { _ in Int32.random(in: BenchTokens.ids(config), using: &rng) }
        let modes: [Bool] = sharing == "both" ? [true, false] : [sharing == "on"]
        for i in 0..<warmup {
            for mode in modes {
                scorer.options.sharesPrefixes = mode
                _ = try scorer.score(instruction: instruction, candidates: requests[i % requests.count])
            }
        }
        var times: [Bool: [Double]] = [:], encode: [Bool: [Double]] = [:], ratios: [Double] = []
        var nominal: [Double] = [], done: [Double] = []
        var rows = 0, unsharedRows = 0
        // The ceiling is re-measured beside every request (the machine is shared:
        // a ceiling from a minute earlier says little), so each request gets a
        // % of the ceiling of its own moment; the report gives their medians.
        var paired: [Bool: [Double]] = [:], ceilings: [Double] = []
        let shapes = ceilingShapes(config: config, candidates: requests[0].count)
        for i in 0..<max(1, iterations) {
            let candidates = requests[i % requests.count]
            let moment = ceilingNow(shapes)
            ceilings.append(moment)
            var pair: [Bool: Double] = [:]
            for mode in (i % 2 == 0 ? modes : modes.reversed()) {
                scorer.options.sharesPrefixes = mode
                let start = DispatchTime.now().uptimeNanoseconds
                let result = try scorer.run(instruction: instruction, candidates: candidates)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                times[mode, default: []].append(seconds)
                encode[mode, default: []].append(result.encodeSeconds)
                pair[mode] = seconds
                if mode { rows += result.decoderRows; unsharedRows += result.candidateRows }
            }
            if let on = pair[true], let off = pair[false] { ratios.append(on / off) }
            let lengths = candidates.map(\.count)
            let full = FlopCount.scoring(config: config, instructionTokens: instructionTokens, candidateLengths: lengths)
            for (mode, seconds) in pair { paired[mode, default: []].append(full / seconds / 1e9 / moment) }
            nominal.append(full)
            done.append(FlopCount.scoring(config: config, instructionTokens: instructionTokens, candidates: candidates, sharing: true))
        }
        let flops = median(nominal), count = requests[0].count
        for mode in modes {
            let med = median(times[mode] ?? []), gflops = flops / med / 1e9
            var line = String(format: "  %@ [sharing %@]: median %.1f ms  p90 %.1f ms  (encode %.1f ms)  %.0f candidates/s  %.1f GFLOP/s = %.0f%% of the sgemm ceiling %.1f  [%.2f GFLOP per request]",
                              name, mode ? "on " : "off", med * 1e3, percentile(times[mode] ?? [], 0.9) * 1e3,
                              median(encode[mode] ?? []) * 1e3, Double(count) / med, gflops, 100 * gflops / ceiling, ceiling, flops / 1e9)
            if mode {
                let work = median(done)
                line += String(format: "; decoder rows %d of %d (%.1f%% saved), work done %.2f GFLOP = %.1f GFLOP/s (%.0f%% of ceiling)",
                                rows, unsharedRows, 100 * (1 - Double(rows) / Double(max(unsharedRows, 1))),
                                work / 1e9, work / med / 1e9, 100 * work / med / 1e9 / ceiling)
            }
            print(line)
            print(String(format: "    [sharing %@] against the ceiling re-measured beside each request (median %.1f GFLOP/s): median %.0f%%, range %.0f-%.0f%%",
                         mode ? "on " : "off", median(ceilings), 100 * median(paired[mode] ?? []),
                         100 * ((paired[mode] ?? []).min() ?? .nan), 100 * ((paired[mode] ?? []).max() ?? .nan)))
        }
        if !ratios.isEmpty {
            print(String(format: "  %@: sharing on / off, median of %d interleaved pairs: %.3f", name, ratios.count, median(ratios)))
        }
    }
}
