import ArgumentParser
import Configuration
import Foundation
import Evaluation
import InstructRec
import T5Scoring
import Tokenizer

/// `instructrec eval`: the paper's protocol through our engine, with the
/// popularity and last-item-transitions baselines, the random expectation and
/// any external baseline's scores on the same users and candidates.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model with leave-one-out ranking (HR@1/3/5, NDCG@3/5) beside popularity, transitions and random.",
        discussion: """
            Rows: model (unless --no-model), popularity (training interaction counts), transitions \
            (item->next-item counts over the training part of every sequence, all but each user's last two \
            items; a candidate's score is the sum of its counts from the user's last --transition-window \
            history items, weighted decay^j, popularity as the backoff; --transition-window 1 is the plain \
            last-item baseline), random \
            (the expectation), and one row per --external-scores. Ties count against the target in every row.

            External baselines: --dump-cases FILE writes this run's cases as JSON Lines: {"user", \
            "user_index", "split", "sequence" (the user's whole sequence before the target), "history" \
            (the last --max-history items, what the model sees), "target", "candidates" (presentation \
            order)}. A baseline (e.g. scripts/baselines/sasrec.py) answers with JSON Lines \
            {"user_index", "scores" (aligned with candidates), optionally "user" and "candidates", which are \
            checked}; --external-scores NAME=FILE adds it as row NAME. Every case of the run must be in FILE.

              instructrec eval --no-model --data DIR --dump-cases out/cases.jsonl
              python scripts/baselines/sasrec.py --data DIR --cases out/cases.jsonl --scores out/sasrec.jsonl
              instructrec eval --data DIR --external-scores sasrec=out/sasrec.jsonl

            Candidate settings: --negatives N (default 9) negatives per user, never items the user touched, \
            drawn uniformly (--negatives-from uniform, the paper's) or in proportion to their training \
            interaction counts (--negatives-from popularity: harder, popular negatives; items unseen in \
            training are never drawn; use with --negatives 99). --candidates-file FILE uses a retriever's \
            pools as given (--insert-target: a missed target replaces the pool's last item). --retriever \
            cooccurrence: the candidates are the top --retriever-size (default 100) items of a co-occurrence \
            retriever (item pairs within 3 positions over the training part of every sequence, items[:-2], as \
            transitions counts; scored by summed co-occurrence with the last 10 history items, weight 0.8^j; \
            the user's own items excluded; popularity fills up); where it missed the target, the target \
            replaces its lowest-ranked item, then the candidates are shuffled, and its recall (targets \
            retrieved before insertion) is printed and written to the JSON result.

            Out-of-catalog titles: --rewrite-titles shows every candidate (target and negatives alike) to \
            the model under the title another store would give it (platform moved or abbreviated, edition \
            words added or dropped, punctuation, case; seeded and deterministic per item). For the id-based \
            rows the target is then a cold item, never seen: popularity and transitions score it 0 (ties \
            count against it), and --dump-cases writes "cold": [target], which external baselines must \
            score lowest (scripts/baselines/sasrec.py gives it its case's lowest score minus 1).
            """)

    @Option(help: "Dataset directory (default: ../shared/data/games from the repository root, found from any directory).") var data: String?
    @Option(help: "Dataset file prefix.") var prefix = "Games"
    @Option(help: "Model directory (default: the one serve loads, found from any directory).") var model: String?
    @Option(help: "Tokenizer directory or file (default: the model directory).") var tokenizer: String?
    @Option(help: "Templates file (default: the model directory's templates.json, else config/templates.json).") var templates: String?
    @Option(help: "Configuration file for the model-bound settings (as serve; default: config/instructrec.json here or beside the binary).") var config: String?
    @Option(help: "Template used for ranking (default: the one the model's instruction_form picks for a history, as serve does).")
    var template: String?
    @Option(help: "list or candidate_free: the instruction form when no --template is named (default: the model's).")
    var instructionForm: String?
    @Option(help: "Users to evaluate (a seeded sample).") var users = 5000
    @Option(help: "test (last item) or valid (second to last).") var split = "test"
    @Option(help: "Negatives per user when no candidate file is given.") var negatives = 9
    @Option(help: "Candidate file (user TAB 100 item ids), e.g. Games.bm25, for match-then-rerank.") var candidatesFile: String?
    @Flag(help: "With --candidates-file: where the retriever missed the target, it replaces the pool's last item (ranking, not retrieval recall).")
    var insertTarget = false
    @Option(help: "Negatives drawn uniformly or in proportion to training popularity (uniform or popularity).")
    var negativesFrom = "uniform"
    @Option(help: "First-stage retriever whose top --retriever-size items are the candidates (cooccurrence).")
    var retriever: String?
    @Option(help: "With --retriever: pool size (a missed target replaces the lowest-ranked item).") var retrieverSize = 100
    @Flag(help: "Out-of-catalog titles: every candidate shown under another store's title; the target is cold for the id-based baselines.")
    var rewriteTitles = false
    @Option(help: "Most recent history items in the instruction.") var maxHistory = 10
    @Option(help: "sum, mean or calibrated (default: the model's scoring).") var scoring: String?
    @Option(help: "Calibrated scoring: prior weights α, comma-separated, one model row each from one pass (default: one row, the model's own weights).")
    var priorWeights: String?
    @Option(help: "Also score this many cases in 4 candidate orders each and report how often the top 10 is the same (0: skip).")
    var orderStability = 0
    @Option(help: "Write each case's likelihoods, priors and title token counts (JSON Lines) for offline selection (scripts/eval/select_scoring.py).")
    var dumpScores: String?
    @Flag(help: "Fit the relevance mappings (history contexts: the next item against the other candidates; query contexts: a query made from its title against the same candidates; classes weighted equally) on these cases (use --split valid) and print them with their figures.")
    var fitRelevance = false
    @Flag(help: "With --fit-relevance: write the fitted mappings and their figures into the model's instructrec.json (other keys kept).")
    var writeModelSettings = false
    @Option(help: "With --fit-relevance: write each case's relevance pairs (history and query scores, the query, the likelihoods and priors) as JSON Lines.")
    var dumpRelevance: String?
    @Option(help: "auto, f32, int8 or bf16: the weights' type for the model row (default: the configuration's weights_dtype).")
    var weightsDtype: String?
    @Option(help: "Also score every case with the weights in this type (auto, f32, int8 or bf16) as row 'model (TYPE)', and report how often both give the same top 10.")
    var compareWeightsDtype: String?
    @Option(help: "Threads for the engine.") var threads = 2
    @Option(help: "Seed for users and negatives.") var seed: UInt64 = 42
    @Option(help: "JSON result file.") var output = "out/eval.json"
    @Flag(help: "Baselines only: do not load or run a model (no model row).") var noModel = false
    @Option(help: "Transitions baseline: history items whose transition counts are summed, most recent first (1: the last item only).")
    var transitionWindow = 10
    @Option(help: "Transitions baseline: weight decay^j of the j-th most recent history item.") var transitionDecay = 1.0
    @Option(help: "Write this run's cases (JSON Lines) for external baselines.") var dumpCases: String?
    @Option(help: ArgumentHelp("An external baseline's per-case scores, NAME=FILE.jsonl (repeatable); adds row NAME.",
                               valueName: "name=file")) var externalScores: [String] = []

    func run() throws {
        let dataset = try DatasetLocation.load(data: data, prefix: prefix)
        guard let splitValue = Evaluator.Split(rawValue: split) else { throw ValidationError("--split must be test or valid") }
        let scoringMode = try scoring.map { value in
            guard let mode = Scoring.Mode(rawValue: value) else { throw ValidationError("--scoring must be sum, mean or calibrated") }
            return mode
        }
        let weights = try priorWeights.map { list in
            try list.split(separator: ",").map { text -> Float in
                guard let value = Float(text.trimmingCharacters(in: .whitespaces)), Scoring.priorWeightRange.contains(value) else {
                    throw ValidationError("--prior-weights: numbers in \(Scoring.priorWeightRange), got '\(text)'")
                }
                return value
            }
        }
        guard orderStability >= 0 else { throw ValidationError("--order-stability must be 0 or more") }
        let dtypeChoices = WeightsDType.allCases.map(\.rawValue).joined(separator: ", ")
        let chosenDType = try weightsDtype.map { value in
            guard let dtype = WeightsDType(rawValue: value) else { throw ValidationError("--weights-dtype must be one of \(dtypeChoices)") }
            return dtype
        }
        let comparedDType = try compareWeightsDtype.map { value in
            guard let dtype = WeightsDType(rawValue: value) else { throw ValidationError("--compare-weights-dtype must be one of \(dtypeChoices)") }
            return dtype
        }
        if comparedDType != nil && noModel { throw ValidationError("--compare-weights-dtype compares the model: leave out --no-model") }
        if fitRelevance && splitValue == .test {
            throw ValidationError("--fit-relevance fits on the validation split (the test split is read once, to measure): add --split valid")
        }
        if dumpRelevance != nil && !fitRelevance { throw ValidationError("--dump-relevance writes what --fit-relevance scores: add --fit-relevance") }
        if writeModelSettings && !fitRelevance { throw ValidationError("--write-model-settings writes what --fit-relevance fits: add --fit-relevance") }
        if fitRelevance && priorWeights != nil {
            throw ValidationError("--fit-relevance fits the model's own scoring: leave out --prior-weights")
        }
        var options = Evaluator.Options()
        options.users = users
        options.negatives = negatives
        options.seed = seed
        options.split = splitValue
        options.maxHistory = maxHistory
        options.insertTarget = insertTarget
        guard let negativeSampling = Evaluator.NegativeSampling(rawValue: negativesFrom) else {
            throw ValidationError("--negatives-from must be uniform or popularity")
        }
        options.negativesFrom = negativeSampling
        if let retriever {
            guard let value = Evaluator.Retriever(rawValue: retriever) else { throw ValidationError("--retriever must be cooccurrence") }
            guard candidatesFile == nil else { throw ValidationError("--retriever and --candidates-file are exclusive") }
            guard retrieverSize >= 2 else { throw ValidationError("--retriever-size must be at least 2") }
            options.retriever = value
            options.retrieverSize = retrieverSize
        }
        if negativeSampling != .uniform && (retriever != nil || candidatesFile != nil) {
            throw ValidationError("--negatives-from applies to sampled negatives, not to --retriever or --candidates-file")
        }
        options.rewriteTitles = rewriteTitles
        guard transitionWindow >= 1 else { throw ValidationError("--transition-window must be at least 1") }
        options.transitionWindow = transitionWindow
        options.transitionDecay = transitionDecay
        let external = try externalScores.map(readExternalScores)
        let reserved: Set<String> = ["model", "popularity", "transitions", "random"]
        if let clash = external.map(\.name).first(where: { reserved.contains($0) }) {
            throw ValidationError("--external-scores name '\(clash)' is taken by a built-in row")
        }
        guard Set(external.map(\.name)).count == external.count else { throw ValidationError("--external-scores names must differ") }
        let evaluator = Evaluator(dataset: dataset, options: options)
        let pools = try candidatesFile.map(readPools)
        let cases = evaluator.cases(pools: pools)
        if let dumpCases {
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: dumpCases).deletingLastPathComponent(), withIntermediateDirectories: true)
            try CaseRecord.jsonLines(cases, split: splitValue).write(to: URL(fileURLWithPath: dumpCases))
            print("wrote \(cases.count) cases to \(dumpCases)")
        }
        // Every external file must cover every case: fail before any model time is spent.
        for scores in external { for c in cases { _ = try scores.scores(for: c) } }

        // The same model-bound settings (max_history_items, max_input_tokens, templates...) and the
        // same pipeline as serve and score; --max-history stays the protocol's history length.
        var modelEvaluation: ModelEvaluation?
        var comparison: ModelEvaluation?
        var comparisonName = ""
        var effectiveScoring = scoring ?? "sum"
        // the model's directory as the configuration found it (unused under --no-model)
        var modelDirectory = ""
        if !noModel {
            var overrides: [String: String] = [:]
            if let model = self.model { overrides["model"] = model }
            if let tokenizer { overrides["tokenizer"] = tokenizer }
            if let templates { overrides["templates"] = templates }
            if let instructionForm { overrides["instruction_form"] = instructionForm }
            let file = try ConfigurationLocation.configFile(explicit: config)
            let configuration = try ServiceConfiguration.load(file: file, environment: ProcessInfo.processInfo.environment, overrides: overrides,
                                                              baseDirectories: ConfigurationLocation.baseDirectories(configFile: file))
                .fetchingHubModels()
            modelDirectory = configuration.model
            let engine: any ScoringModel = try ScoringEngine(modelDirectory: modelDirectory,
                                                             weightsDType: chosenDType ?? configuration.weightsDType)
            let tokenizer = try Tokenizer.load(path: configuration.tokenizer ?? modelDirectory)
            let pipeline = try configuration.makePipeline(tokenizer: tokenizer)
            let mode = scoringMode ?? configuration.scoringMode
            effectiveScoring = mode.rawValue
            modelEvaluation = ModelEvaluation(pipeline: pipeline, model: engine, threads: threads, mode: mode,
                                              priorWeights: weights, template: template,
                                              title: { item, c in evaluator.title(of: item, in: c) })
            if let comparedDType {
                // The same settings in a pipeline of its own (its title-prior cache holds its own weights' priors),
                // the weights in the other type: the rows differ by the weights' type only.
                comparisonName = "model (\(comparedDType.rawValue))"
                comparison = ModelEvaluation(pipeline: try configuration.makePipeline(tokenizer: tokenizer), model: try ScoringEngine(modelDirectory: modelDirectory, weightsDType: comparedDType),
                                             threads: threads, mode: mode, priorWeights: weights, template: template,
                                             title: { item, c in evaluator.title(of: item, in: c) })
            }
            if fitRelevance {
                guard pipeline.pointwise == nil else {
                    throw ValidationError("--fit-relevance fits a likelihood model's mapping; a pointwise model's relevance is its own P(yes)")
                }
                modelEvaluation?.relevanceFit = RelevanceFit()
                if let dumpRelevance {
                    try FileManager.default.createDirectory(at: URL(fileURLWithPath: dumpRelevance).deletingLastPathComponent(), withIntermediateDirectories: true)
                    guard FileManager.default.createFile(atPath: dumpRelevance, contents: nil),
                          let handle = FileHandle(forWritingAtPath: dumpRelevance) else { throw ValidationError("cannot write \(dumpRelevance)") }
                    modelEvaluation?.relevanceDump = handle
                }
            }
            if let dumpScores {
                try FileManager.default.createDirectory(at: URL(fileURLWithPath: dumpScores).deletingLastPathComponent(), withIntermediateDirectories: true)
                guard FileManager.default.createFile(atPath: dumpScores, contents: nil),
                      let handle = FileHandle(forWritingAtPath: dumpScores) else { throw ValidationError("cannot write \(dumpScores)") }
                modelEvaluation?.scoreDump = handle
            }
        }

        var popularityMetrics = Evaluator.Metrics(), randomMetrics = Evaluator.Metrics()
        var transitionMetrics = Evaluator.Metrics()
        var externalMetrics = external.map { _ in Evaluator.Metrics() }
        var progress = ProgressBar(total: cases.count, label: "users")
        var sameTopTen = 0, sameBest = 0
        for (done, c) in cases.enumerated() {
            try modelEvaluation?.add(c)
            if comparison != nil, let first = modelEvaluation?.lastScores {
                try comparison?.add(c)
                let second = comparison?.lastScores ?? []
                func ranked(_ scores: [Float]) -> [Int] { scores.indices.sorted { scores[$0] > scores[$1] } }
                if Set(ranked(first).prefix(10)) == Set(ranked(second).prefix(10)) { sameTopTen += 1 }
                if ranked(first).first == ranked(second).first { sameBest += 1 }
            }
            popularityMetrics.add(rank: evaluator.popularityRank(c))
            transitionMetrics.add(rank: evaluator.transitionRank(c))
            for (index, scores) in external.enumerated() { externalMetrics[index].add(rank: try scores.rank(c)) }
            randomMetrics.addRandom(candidates: c.candidates.count, containsTarget: c.candidates.contains(c.target))
            if modelEvaluation != nil { progress.update(done + 1) }
        }
        if modelEvaluation != nil { progress.finish() }
        var modelRows = modelEvaluation.map { evaluation in zip(evaluation.rowNames, evaluation.metrics.map(\.summary)).map { ($0, $1) } } ?? []
        if let comparison, let summary = comparison.metrics.first?.summary { modelRows.append((comparisonName, summary)) }
        let rows = modelRows
            + [("popularity", popularityMetrics.summary), ("transitions", transitionMetrics.summary)]
            + zip(external, externalMetrics).map { ($0.name, $1.summary) }
            + [("random", randomMetrics.summary)]
        let recall = evaluator.retrieverRecall(cases)
        let pool = candidatesFile.map { insertTarget ? "\($0) (target inserted)" : $0 }
            ?? options.retriever.map { "\($0.rawValue) retriever top \(retrieverSize) (recall \(String(format: "%.4f", recall ?? 0)), target inserted where missed)" }
        let negativesName = negativeSampling == .uniform ? "random" : "popularity-drawn"
        print("\(cases.count) users, split \(split), \(pool ?? "\(negatives) \(negativesName) negatives"), "
              + (rewriteTitles ? "rewritten titles (cold target), " : "") + "scoring \(effectiveScoring), "
              + (noModel ? "no model" : "model \(modelDirectory)"))
        let width = max(12, (rows.map(\.0.count).max() ?? 0) + 1)
        print(String(repeating: " ", count: width) + "  HR@1    HR@3    HR@5    NDCG@3  NDCG@5")
        for (name, summary) in rows {
            print(name.padding(toLength: width, withPad: " ", startingAt: 0)
                  + ["HR@1", "HR@3", "HR@5", "NDCG@3", "NDCG@5"].map { String(format: "  %.4f", summary[$0] ?? 0) }.joined())
        }
        var extras: [String: Any] = [:]
        if let modelEvaluation, orderStability > 0 {
            let stability = try modelEvaluation.orderStability(Array(cases.prefix(orderStability)), orders: 4, seed: seed)
            print(String(format: "order stability (%@, 4 orders of each of %d cases): same top 10 in %d of %d, worst relative score change %.2e",
                         modelEvaluation.rowNames[0], stability.cases, stability.sameTopTen, stability.cases,
                         Double(stability.worstRelativeDifference)))
            extras["order_stability"] = ["cases": stability.cases, "same_top10": stability.sameTopTen, "orders": 4,
                                         "worst_relative_difference": Double(stability.worstRelativeDifference)]
        }
        if comparison != nil {
            print("weights \(weightsDtype ?? "as configured") against \(comparisonName): same top 10 in \(sameTopTen) of \(cases.count) cases, "
                  + "same first candidate in \(sameBest)")
            extras["weights_dtype_comparison"] = ["against": comparisonName, "cases": cases.count, "same_top10": sameTopTen,
                                                  "same_first": sameBest]
        }
        if let fit = modelEvaluation?.relevanceFit {
            let history = RelevanceFit.fit(fit.history, cases: fit.historyCases)
            let query = RelevanceFit.fit(fit.query, cases: fit.queryCases)
            for (kind, result) in [("history", history), ("query", query)] {
                guard let result else { print("relevance fit, \(kind) contexts: no case had both classes; nothing fitted"); continue }
                print(String(format: "relevance fit, %@ contexts (%d cases, %d pairs, classes weighted equally): scale %.6f, bias %.6f; AUC %.4f, accuracy at 0.5 %.4f",
                             kind, result.cases, result.pairs, result.scale, result.bias, result.auc, result.accuracy))
            }
            var figures: [String: Any] = [
                "command": "instructrec eval --split \(split) --users \(users) --seed \(seed) --negatives \(negatives) --negatives-from \(negativesFrom)"
                    + (retriever.map { " --retriever \($0)" } ?? "") + (rewriteTitles ? " --rewrite-titles" : "") + " --fit-relevance",
                "dataset": "\(URL(fileURLWithPath: data ?? DatasetLocation.defaultDirectory).lastPathComponent)/\(prefix)",
            ]
            if let history { figures["history"] = history.json }
            if let query { figures["query"] = query.json }
            extras["relevance_fit"] = figures
            if writeModelSettings {
                try RelevanceFit.write(history: history, query: query, figures: figures, modelDirectory: modelDirectory)
                print("wrote the relevance mappings into \(modelDirectory)/instructrec.json")
            }
        }
        let result: [String: Any] = [
            "users": cases.count, "split": split, "scoring": effectiveScoring, "model": noModel ? NSNull() : modelDirectory,
            "template": template ?? "(the model's form)",
            "candidates": candidatesFile.map { insertTarget ? "\($0) (target inserted)" : $0 }
                ?? options.retriever.map { "\($0.rawValue)-\(retrieverSize)" } ?? "\(negativeSampling == .uniform ? "random" : "popularity")-\(negatives)",
            "seed": seed, "max_history": maxHistory, "weights_dtype": weightsDtype ?? "as configured",
            "negatives_from": options.retriever == nil && candidatesFile == nil ? negativeSampling.rawValue : NSNull(),
            "retriever": options.retriever.map { ["name": $0.rawValue, "size": retrieverSize, "recall": recall ?? 0] as [String: Any] } ?? NSNull(),
            "rewrite_titles": rewriteTitles,
            "transitions": ["window": transitionWindow, "decay": transitionDecay, "counted_on": "items[:-2] of every sequence"],
            "external": Dictionary(uniqueKeysWithValues: external.map { ($0.name, $0.file) }),
            "metrics": Dictionary(uniqueKeysWithValues: rows.map { ($0.0, $0.1) }) as [String: [String: Double]],
        ]
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: output).deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: result.merging(extras) { a, _ in a }, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: output))
        print("wrote \(output)")
    }

    func readExternalScores(_ argument: String) throws -> ExternalScores {
        let parts = argument.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ValidationError("--external-scores expects NAME=FILE.jsonl, got '\(argument)'")
        }
        do { return try ExternalScores(name: String(parts[0]), contentsOf: String(parts[1])) } catch {
            throw ValidationError("\(error)")
        }
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
