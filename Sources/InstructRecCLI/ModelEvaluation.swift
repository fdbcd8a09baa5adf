import Foundation
import Evaluation
import InstructRec
import Randomness

/// The model's rows of `instructrec eval`: every case scored once through the service's
/// own pipeline, with the model's own scoring ("model"), or, given prior weights, one row
/// per α from the same likelihoods and priors (score = likelihood − α · prior), so a grid
/// of α costs one pass.
/// It also gathers what `--fit-relevance` and `--order-stability` report.
struct ModelEvaluation {
    let pipeline: RankPipeline
    /// the model under evaluation, and the one scorer over it this evaluation runs on
    let model: any ScoringModel
    let scorer: any CandidateScorer
    let mode: Scoring.Mode
    /// one row per weight (calibrated); nil: one row, the model's own scoring
    let priorWeights: [Float]?
    let template: String?
    /// the title the model is shown for an item of a case
    let title: (Int, Evaluator.Case) -> String
    private(set) var metrics: [Evaluator.Metrics]
    /// The first row's scores of the last case added, in its candidates' order (`--compare-weights-dtype` reads them).
    private(set) var lastScores: [Float] = []
    /// `--fit-relevance`: the (context, candidate) pairs of both context kinds; nil: no fit
    var relevanceFit: RelevanceFit?
    /// JSON Lines of every case's likelihoods, priors and title lengths (`--dump-scores`), for offline selection
    var scoreDump: FileHandle?
    /// JSON Lines of every case's relevance pairs under both context kinds (`--dump-relevance`), for offline study
    var relevanceDump: FileHandle?

    init(pipeline: RankPipeline, model: any ScoringModel, threads: Int, mode: Scoring.Mode, priorWeights: [Float]?, template: String?,
         title: @escaping (Int, Evaluator.Case) -> String) {
        self.pipeline = pipeline
        self.model = model
        scorer = model.makeScorer(threads: threads)
        self.mode = mode
        self.priorWeights = mode == .calibrated ? priorWeights : nil
        self.template = template
        self.title = title
        metrics = (self.priorWeights ?? [0]).map { _ in Evaluator.Metrics() }
    }

    /// Row names: "model" alone, or "model α=0.75" per weight.
    var rowNames: [String] {
        priorWeights.map { $0.map { "model α=\(Self.format($0))" } } ?? ["model"]
    }

    static func format(_ weight: Float) -> String { String(format: "%g", Double(weight)) }

    func query(_ c: Evaluator.Case, candidates: [Int]) -> RankQuery {
        let context = UserContext(history: c.history.map { Item(id: String($0), title: title($0, c)) })
        let items = candidates.map { Item(id: String($0), title: title($0, c)) }
        // A grid of α: the likelihoods and priors come back apart; α = 1 only makes the pipeline compute the priors.
        return RankQuery(context: context, candidates: items, template: template, scoring: mode, priorWeight: priorWeights == nil ? nil : 1)
    }

    /// The scores per weight of one ordering of a case's candidates.
    func scores(_ c: Evaluator.Case, candidates: [Int], dump: Bool = false) throws -> [[Float]] {
        try outcome(c, candidates: candidates, dump: dump).scores
    }

    /// The scores per weight of one ordering of a case's candidates, and the context's relevance offset.
    func outcome(_ c: Evaluator.Case, candidates: [Int], dump: Bool = false) throws -> (scores: [[Float]], offset: Float) {
        let outcome = try pipeline.run(query(c, candidates: candidates), scorer: scorer)
        if dump, let scoreDump {
            let record: [String: Any] = [
                "user_index": c.userIndex, "target": candidates.firstIndex(of: c.target) ?? -1,
                "likelihoods": outcome.components.likelihoods.map(Double.init),
                "priors": (outcome.components.priors ?? []).map(Double.init),
                "tokens": outcome.plan.targets.map { $0.count + 1 },
            ]
            scoreDump.write(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) + Data("\n".utf8))
        }
        guard let priorWeights, let priors = outcome.components.priors else { return ([outcome.scores], outcome.relevanceOffset) }
        return (priorWeights.map { weight in zip(outcome.components.likelihoods, priors).map { $0 - weight * $1 } }, outcome.relevanceOffset)
    }

    mutating func add(_ c: Evaluator.Case) throws {
        let (perWeight, historyOffset) = try outcome(c, candidates: c.candidates, dump: true)
        lastScores = perWeight.first ?? []
        for (row, scores) in perWeight.enumerated() {
            metrics[row].add(rank: Evaluator.rank(of: c.target, candidates: c.candidates, scores: scores))
        }
        guard var fit = relevanceFit else { return }
        // History contexts: the scores just ranked, as /recommend gives them (the model's own scoring).
        let relevant = c.candidates.map { $0 == c.target }
        // The logistic reads score − the context's offset (`RelevanceReference`; 0 without references).
        fit.history.add(scores: perWeight[0].map { $0 - historyOffset }, relevant: relevant, counted: c.candidates.map { _ in true })
        fit.historyCases += 1
        // Query contexts: a query made from the target's title, no history, as /rerank and the Cohere shapes score it.
        let query = RelevanceFit.query(for: title(c.target, c), caseIndex: c.userIndex)
        let items = c.candidates.map { Item(id: String($0), title: title($0, c)) }
        let outcome = try pipeline.run(RankQuery(context: UserContext(intention: query), candidates: items), scorer: scorer)
        let counted = c.candidates.map { item in
            item == c.target || !HistoryExclusion.normalizedTitle(title(item, c)).contains(query)
        }
        fit.query.add(scores: outcome.scores.map { $0 - outcome.relevanceOffset }, relevant: relevant, counted: counted)
        if let relevanceDump {
            let record: [String: Any] = [
                "user_index": c.userIndex, "query": query, "target": c.candidates.firstIndex(of: c.target) ?? -1,
                "history_scores": perWeight[0].map(Double.init), "history_offset": Double(historyOffset),
                "query_scores": outcome.scores.map(Double.init), "query_offset": Double(outcome.relevanceOffset),
                "query_likelihoods": outcome.components.likelihoods.map(Double.init),
                "query_priors": (outcome.components.priors ?? []).map(Double.init), "counted": counted,
            ]
            relevanceDump.write(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) + Data("\n".utf8))
        }
        fit.queryCases += 1
        relevanceFit = fit
    }

    struct Stability {
        var cases = 0
        /// cases whose top 10 (ids, in order) was the same in every ordering
        var sameTopTen = 0
        /// the largest |Δ score| / max(1, |score|) of any candidate between orderings
        var worstRelativeDifference: Float = 0
    }

    /// Scores each case in `orders` orderings (the case's own, then seeded shuffles) under the first weight.
    func orderStability(_ cases: [Evaluator.Case], orders: Int, seed: UInt64) throws -> Stability {
        var stability = Stability()
        var generator = SplitMix64(seed: seed)
        for c in cases {
            var reference: [Int: Float] = [:], referenceTop: [Int] = []
            var same = true
            for round in 0..<max(1, orders) {
                let order = round == 0 ? c.candidates : c.candidates.shuffled(using: &generator)
                let scores = try self.scores(c, candidates: order)[0]
                let byItem = Dictionary(zip(order, scores), uniquingKeysWith: { a, _ in a })
                let top = Array(Reranker.rank(scores: scores, ids: order.map(String.init)).prefix(10).map { order[$0.index] })
                if round == 0 { reference = byItem; referenceTop = top; continue }
                if top != referenceTop { same = false }
                for (item, score) in byItem {
                    let expected = reference[item] ?? score
                    stability.worstRelativeDifference = max(stability.worstRelativeDifference, abs(score - expected) / max(1, abs(expected)))
                }
            }
            stability.cases += 1
            if same { stability.sameTopTen += 1 }
        }
        return stability
    }
}
