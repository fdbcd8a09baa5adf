@testable import Configuration
import Foundation
import InstructRec
import Service
import T5Scoring
import Tokenizer
import XCTest

/// Calibrated scoring through the service's own pipeline (templates, canonical candidate order,
/// prior instruction, engine, combination) against PyTorch on the shipped default model
/// (expectations from scripts/fixtures/make_calibrated_fixtures.py). Both halves are checked apart:
/// the likelihood under the request's instruction and the prior under the empty-context one.
final class CalibratedScoringGoldenTests: XCTestCase {
    struct Golden: Decodable {
        struct Request: Decodable {
            let template: String
            let history: [String]
            let query: String
            let instruction_ids: [Int32]
            let prior_instruction_ids: [Int32]
            let candidates: [String]
            let likelihoods: [Float]
            let priors: [Float]
            let scores: [Float]
        }
        let alpha: Float
        let requests: [Request]
    }

    func testCalibratedScoresAgreeWithPyTorch() throws {
        let modelDirectory = ServiceProcess.root.appendingPathComponent("models/default").path
        let goldenFile = ServiceProcess.root.appendingPathComponent("Tests/ServiceTests/Fixtures/default-model-calibrated.json")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: goldenFile))
        XCTAssertEqual(golden.requests.count, 9)
        let configuration = try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["model": modelDirectory])
        let pipeline = try configuration.makePipeline(tokenizer: try Tokenizer.load(path: modelDirectory))
        let scorer = try ScoringEngine(modelDirectory: modelDirectory).makeScorer(threads: 2)
        var worst: Float = 0
        for request in golden.requests {
            let context = UserContext(history: request.history.map { Item(id: $0, title: $0) },
                                      intention: request.query.isEmpty ? nil : request.query)
            let query = RankQuery(context: context, candidates: request.candidates.enumerated().map { Item(id: "\($0)", title: $1) },
                                  template: request.template, scoring: .calibrated, priorWeight: golden.alpha)
            let outcome = try pipeline.run(query, scorer: scorer)
            XCTAssertEqual(outcome.plan.groups.map(\.tokens), [request.instruction_ids], request.template)
            XCTAssertEqual(outcome.plan.priorInstruction, request.prior_instruction_ids, request.template)
            let priors = try XCTUnwrap(outcome.components.priors)
            for (actual, expected) in [(outcome.components.likelihoods, request.likelihoods), (priors, request.priors), (outcome.scores, request.scores)] {
                XCTAssertEqual(actual.count, expected.count)
                for (a, e) in zip(actual, expected) { worst = max(worst, abs(a - e)) }
            }
        }
        print("calibrated scoring vs PyTorch: worst |Δ| \(worst) (likelihoods, priors and scores)")
        XCTAssertLessThanOrEqual(worst, 1e-3)
    }
}
