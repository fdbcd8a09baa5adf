import ArgumentParser
import Foundation
import Evaluation
import InstructRec

/// `instructrec eval --fit-relevance`: the two logistics that map a likelihood model's score to
/// `relevance_score`, one per context kind (see `Scoring` and `Relevance`), fitted on the cases of the
/// run (use the validation split), with the figures that say how well they separate.
///
/// - history contexts: each case's history against its candidates, the user's next item relevant and
///   the others not, scored exactly as `/recommend` scores them;
/// - query contexts: a query made from the next item's title (its first one to three content words, like
///   a franchise or series name: `InstructionDataGenerator.query`) against the same candidates, scored as
///   `/rerank` and the Cohere, Jina and TEI shapes score them (no history). A negative whose title contains
///   the query is left out: it may well be relevant.
///
/// Each case weighs its relevant and its irrelevant candidates equally (one unit each), so the fitted
/// logistic estimates the probability of relevance at even odds: 0.5 is the threshold it is made for.
struct RelevanceFit {
    /// one scored (context, candidate) pair
    struct Pairs {
        var scores: [Float] = []
        var labels: [Bool] = []
        var weights: [Double] = []

        /// Adds one case: its candidates' scores and which were relevant; `counted` says which count.
        mutating func add(scores caseScores: [Float], relevant: [Bool], counted: [Bool]) {
            let positives = zip(relevant, counted).filter { $0 && $1 }.count
            let negatives = zip(relevant, counted).filter { !$0 && $1 }.count
            guard positives > 0, negatives > 0 else { return }
            for i in caseScores.indices where counted[i] {
                scores.append(caseScores[i])
                labels.append(relevant[i])
                weights.append(relevant[i] ? 1 / Double(positives) : 1 / Double(negatives))
            }
        }
    }

    /// One kind's fitted logistic and what it achieves on the pairs it was fitted on.
    struct Result {
        var scale: Double
        var bias: Double
        var pairs: Int
        var cases: Int
        /// weighted ROC AUC of the scores (each case's classes weighted equally)
        var auc: Double
        /// weighted accuracy of relevance_score ≥ 0.5
        var accuracy: Double

        var json: [String: Any] {
            ["scale": written(scale), "bias": written(bias), "pairs": pairs, "cases": cases, "auc": rounded(auc), "accuracy_at_0_5": rounded(accuracy)]
        }

        func rounded(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }
    }

    var history = Pairs()
    var query = Pairs()
    var historyCases = 0
    var queryCases = 0

    /// The query a fit asks for an item: its first one to three content words, by the case's index.
    static func query(for title: String, caseIndex: Int) -> String {
        let words = InstructionDataGenerator.query(from: title).split(separator: " ")
        return words.prefix(1 + caseIndex % 3).joined(separator: " ")
    }

    static func fit(_ pairs: Pairs, cases: Int) -> Result? {
        guard pairs.labels.contains(true), pairs.labels.contains(false) else { return nil }
        let (scale, bias) = Relevance.fit(scores: pairs.scores, labels: pairs.labels, weights: pairs.weights)
        var right = 0.0, total = 0.0
        for i in pairs.scores.indices {
            let relevant = Relevance.sigmoid(scale * Double(pairs.scores[i]) + bias) >= 0.5
            if relevant == pairs.labels[i] { right += pairs.weights[i] }
            total += pairs.weights[i]
        }
        return Result(scale: scale, bias: bias, pairs: pairs.scores.count, cases: cases,
                      auc: Relevance.rocAUC(scores: pairs.scores, labels: pairs.labels, weights: pairs.weights),
                      accuracy: total > 0 ? right / total : .nan)
    }

    /// Writes the fitted mappings, and their figures as `relevance_fit`, into a model directory's
    /// `instructrec.json`, keeping every other key (a file that is missing is created).
    static func write(history: Result?, query: Result?, figures: [String: Any], modelDirectory: String) throws {
        let path = URL(fileURLWithPath: modelDirectory).appendingPathComponent("instructrec.json")
        var settings: [String: Any] = [:]
        if let data = FileManager.default.contents(atPath: path.path) {
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                FileHandle.standardError.write(Data("\(path.path) is not a JSON object: not overwritten\n".utf8))
                throw ExitCode(2)
            }
            settings = object
        }
        if let history {
            settings["relevance_scale"] = history.written(history.scale)
            settings["relevance_bias"] = history.written(history.bias)
        }
        if let query {
            settings["query_relevance_scale"] = query.written(query.scale)
            settings["query_relevance_bias"] = query.written(query.bias)
        }
        settings["relevance_fit"] = figures
        let data = try JSONSerialization.data(withJSONObject: settings, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try (data + Data("\n".utf8)).write(to: path, options: .atomic)
    }
}

extension RelevanceFit.Result {
    /// four decimals, as written into instructrec.json: the engine's last-bit differences between CPUs move a
    /// fit in the sixth decimal, and 1e-4 of scale moves a relevance by far less than a threshold's resolution
    func written(_ x: Double) -> Double { (x * 1e4).rounded() / 1e4 }
}
