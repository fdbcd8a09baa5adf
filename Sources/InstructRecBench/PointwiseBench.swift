import ArgumentParser
import Dispatch
import Foundation
import InstructRec
import T5Scoring

/// `instructrec-bench pointwise`: 100 documents × 200 tokens scored pointwise (MonoT5: each
/// document its own encoder input, one decoder step, P(true) from two vocabulary rows) by our
/// engine, beside transformers' batched forward and CTranslate2's `score_batch` measured by
/// `scripts/bench/bench_pointwise.py` on the same checkpoint and the same token ids in the same run
/// (`make bench-pointwise` runs both). Reports medians and the ratios to ours.
struct PointwiseBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pointwise",
        abstract: "Median time to score 100 documents × 200 tokens pointwise, against transformers and CTranslate2.")

    @Option(help: "HF T5 checkpoint directory (MonoT5-shaped; scripts/bench/bench_pointwise.py --make-model writes a random one).")
    var model = ".build/bench-models/monot5-small-random"
    @Option(help: "The workload's token ids (JSON with \"inputs\", written by scripts/bench/bench_pointwise.py --ids).")
    var ids = ".build/bench-models/pointwise-100x200.json"
    @Option(help: "The reference medians (JSON written by scripts/bench/bench_pointwise.py --json); absent: ours alone.")
    var reference: String?
    @Option(help: "Engine threads.") var threads = 2
    @Option(help: "Timed rounds (after one warm-up).") var rounds = 5
    @Option(help: "Readout ids: MonoT5's ▁true and ▁false.") var readout = "1176,6136"

    struct Workload: Decodable { let inputs: [[Int32]] }
    struct Reference: Decodable {
        let transformers_s: Double?
        let ctranslate2_s: Double?
        let transformers_batch: Int?
        let torch_version: String?
        let ct2_version: String?
        let core_type: String?
        let reference_relevance: [Double]?
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: model), FileManager.default.fileExists(atPath: ids) else {
            throw BenchFailure(message: "pointwise bench: \(model) or \(ids) is missing; make them with "
                               + "venv/bin/python scripts/bench/bench_pointwise.py --make-model \(model) --ids \(ids) (or run make bench-pointwise)")
        }
        let workload = try JSONDecoder().decode(Workload.self, from: Data(contentsOf: URL(fileURLWithPath: ids)))
        let tokens = readout.split(separator: ",").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
        let engine = try ScoringEngine(modelDirectory: model)
        let scorer = engine.makeScorer(threads: threads)
        let groups = workload.inputs.map { ScoringGroup(instruction: $0, readout: tokens) }
        let totalTokens = workload.inputs.reduce(0) { $0 + $1.count }
        var seconds: [Double] = []
        var relevance: [Float] = []
        for round in 0...rounds {
            let start = DispatchTime.now().uptimeNanoseconds
            let results = scorer.score(groups)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let logits = try results.map { try $0.get().logits }
            relevance = logits.map { Float(Relevance.sigmoid(Double($0[0] - $0[1]))) }
            if round > 0 { seconds.append(elapsed) }
        }
        let ours = median(seconds)
        let core = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset (the library's choice)"
        print("pointwise bench: \(workload.inputs.count) documents, \(totalTokens) encoder tokens, \(model), \(threads) threads, "
              + "OPENBLAS_CORETYPE \(core); \(rounds) rounds after a warm-up")
        print(String(format: "  ours (instructrec engine)      median %7.3f s  (%6.0f tokens/s)  mean P(true) %.4f",
                     ours, Double(totalTokens) / ours, relevance.reduce(0, +) / Float(max(1, relevance.count))))
        guard let reference, let data = FileManager.default.contents(atPath: reference) else { return }
        let other = try JSONDecoder().decode(Reference.self, from: data)
        if let t = other.transformers_s {
            print(String(format: "  transformers %@ (batch %d)    median %7.3f s  → ours is %.2fx faster", other.torch_version ?? "",
                         other.transformers_batch ?? 0, t, t / ours))
        }
        if let expected = other.reference_relevance, expected.count == relevance.count {
            let worst = zip(relevance, expected).map { abs(Double($0) - $1) }.max() ?? 0
            print(String(format: "  P(true) against transformers on the same inputs: worst |Δ| %.2e", worst))
        }
        if let c = other.ctranslate2_s {
            print(String(format: "  CTranslate2 %@ score_batch   median %7.3f s  → ours is %.2fx faster", other.ct2_version ?? "", c, c / ours))
        }
    }
}
