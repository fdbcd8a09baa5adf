import ArgumentParser
import Foundation
import InstructRec
import Service
import T5
import Tokenizer

/// `instructrec eval`: the paper's protocol through our engine, with the
/// popularity baseline and the random expectation on the same users.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model with leave-one-out ranking (HR@1/3/5, NDCG@3/5) beside popularity and random.")

    @Option(help: "Dataset directory.") var data = "../shared/data/games"
    @Option(help: "Dataset file prefix.") var prefix = "Games"
    @Option(help: "Model directory.") var model = "models/default"
    @Option(help: "Tokenizer directory or file (default: the model directory).") var tokenizer: String?
    @Option(help: "Templates file (default: the model directory's templates.json, else config/templates.json).") var templates: String?
    @Option(help: "Configuration file for the model-bound settings (as serve).") var config = "config/instructrec.json"
    @Option(help: "Template used for ranking.") var template = "recommend.history"
    @Option(help: "Users to evaluate (a seeded sample).") var users = 5000
    @Option(help: "test (last item) or valid (second to last).") var split = "test"
    @Option(help: "Negatives per user when no candidate file is given.") var negatives = 9
    @Option(help: "Candidate file (user TAB 100 item ids), e.g. Games.bm25, for match-then-rerank.") var candidatesFile: String?
    @Option(help: "Most recent history items in the instruction.") var maxHistory = 10
    @Option(help: "sum or mean.") var scoring = "sum"
    @Option(help: "Threads for the engine.") var threads = 2
    @Option(help: "Seed for users and negatives.") var seed: UInt64 = 42
    @Option(help: "JSON result file.") var output = "out/eval.json"

    func run() throws {
        let dataset: InteractionDataset
        do { dataset = try InteractionDataset(directory: URL(fileURLWithPath: data), prefix: prefix) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        guard let splitValue = Evaluator.Split(rawValue: split) else { throw ValidationError("--split must be test or valid") }
        guard let reduction = ScoreReduction(rawValue: scoring) else { throw ValidationError("--scoring must be sum or mean") }
        var options = Evaluator.Options()
        options.users = users
        options.negatives = negatives
        options.seed = seed
        options.split = splitValue
        options.maxHistory = maxHistory
        options.reduction = reduction
        let evaluator = Evaluator(dataset: dataset, options: options)
        let pools = try candidatesFile.map(readPools)
        let cases = evaluator.cases(pools: pools)

        // The same model-bound settings (max_history_items, max_input_tokens, templates...) and the
        // same pipeline as serve and score; --max-history stays the protocol's history length.
        var overrides = ["model": model]
        if let tokenizer { overrides["tokenizer"] = tokenizer }
        if let templates { overrides["templates"] = templates }
        let configuration = try ServiceConfiguration.load(file: FileManager.default.fileExists(atPath: config) ? config : nil,
                                                          environment: ProcessInfo.processInfo.environment, overrides: overrides)
        let weights = try T5Weights(directory: URL(fileURLWithPath: model))
        let pipeline = try RankPipeline(configuration: configuration, tokenizer: try RerankService.loadTokenizer(tokenizer ?? model))
        let scorer = T5Scorer(weights: weights, threads: threads)

        var modelMetrics = Evaluator.Metrics(), popularityMetrics = Evaluator.Metrics(), randomMetrics = Evaluator.Metrics()
        var progress = ProgressBar(total: cases.count, label: "users")
        for (done, c) in cases.enumerated() {
            let context = UserContext(history: c.history.map { Item(id: String($0), title: dataset.titles[$0]) })
            let items = c.candidates.map { Item(id: String($0), title: dataset.titles[$0]) }
            let scores = try pipeline.run(RankQuery(context: context, candidates: items, template: template, reduction: reduction),
                                          scorer: scorer).scores
            modelMetrics.add(rank: Evaluator.rank(of: c.target, candidates: c.candidates, scores: scores))
            popularityMetrics.add(rank: evaluator.popularityRank(c))
            randomMetrics.addRandom(candidates: c.candidates.count, containsTarget: c.candidates.contains(c.target))
            progress.update(done + 1)
        }
        progress.finish()
        let rows = [("model", modelMetrics.summary), ("popularity", popularityMetrics.summary), ("random", randomMetrics.summary)]
        print("\(cases.count) users, split \(split), \(candidatesFile ?? "\(negatives) random negatives"), scoring \(scoring), model \(model)")
        print("              HR@1    HR@3    HR@5    NDCG@3  NDCG@5")
        for (name, summary) in rows {
            print(name.padding(toLength: 12, withPad: " ", startingAt: 0)
                  + ["HR@1", "HR@3", "HR@5", "NDCG@3", "NDCG@5"].map { String(format: "  %.4f", summary[$0] ?? 0) }.joined())
        }
        let result: [String: Any] = [
            "users": cases.count, "split": split, "scoring": scoring, "model": model, "template": template,
            "candidates": candidatesFile ?? "random-\(negatives)", "seed": seed, "max_history": maxHistory,
            "metrics": Dictionary(uniqueKeysWithValues: rows.map { ($0.0, $0.1) }) as [String: [String: Double]],
        ]
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: output).deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: output))
        print("wrote \(output)")
    }

    func readPools(_ path: String) throws -> [String: [Int]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read \(path)") }
        var pools: [String: [Int]] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            guard fields.count == 2 else { continue }
            pools[String(fields[0])] = fields[1].split(separator: " ").compactMap { Int($0) }
        }
        return pools
    }
}
