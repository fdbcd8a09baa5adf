import Foundation
import InstructRec
import Service
import XCTest

/// The scoring settings: validated naming the setting, model-bound ones read from the model's
/// directory and overridden by the operator's layers.
final class ScoringSettingsTests: XCTestCase {
    func load(_ overrides: [String: String]) throws -> ServiceConfiguration {
        try ServiceConfiguration.load(file: nil, environment: [:], overrides: overrides)
    }

    func testBadValuesAreRefusedNamingTheSetting() {
        for (key, value) in [("scoring", "pmi"), ("prior_weight", "3"), ("prior_weight", "-0.1"), ("unfamiliar_prior_weight", "x"),
                             ("familiarity_threshold", "2"), ("instruction_form", "tournament"), ("relevance", "sigmoid"),
                             ("relevance_scale", "0"), ("prior_cache_entries", "-1"), ("max_candidates", "10001")] {
            XCTAssertThrowsError(try load([key: value]), "\(key)=\(value)") { error in
                XCTAssertEqual((error as? ServiceConfiguration.Invalid)?.setting, key, "\(error)")
            }
        }
    }

    func testTheModelDirectoryCarriesItsScoringAndTheOperatorMayOverrideIt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("instructrec-scoring-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try #"{"scoring": "calibrated", "prior_weight": 0.25, "unfamiliar_prior_weight": 1, "familiarity_threshold": -4.5, "instruction_form": "candidate_free", "relevance_scale": 0.5, "relevance_bias": -3}"#
            .write(to: directory.appendingPathComponent("instructrec.json"), atomically: true, encoding: .utf8)
        let model = try load(["model": directory.path])
        XCTAssertEqual(model.defaultScoring, Scoring(mode: .calibrated, priorWeight: 0.25, unfamiliarPriorWeight: 1, familiarityThreshold: -4.5))
        XCTAssertEqual(model.instructionForm, .candidateFree)
        XCTAssertEqual(model.relevance, Relevance(mode: .logistic, scale: 0.5, bias: -3))
        XCTAssertEqual(model.sources["prior_weight"], directory.appendingPathComponent("instructrec.json").path)
        let operator_ = try load(["model": directory.path, "prior_weight": "0.75", "unfamiliar_prior_weight": "null", "relevance": "softmax"])
        XCTAssertEqual(operator_.defaultScoring, Scoring(mode: .calibrated, priorWeight: 0.75, familiarityThreshold: -4.5))
        XCTAssertEqual(operator_.relevance.mode, .softmax)
        let builtIn = try load([:])
        XCTAssertEqual(builtIn.maxCandidates, 1000)
    }
}
