@testable import Configuration
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
        for (key, value) in [("scoring", "pmi"), ("prior_weight", "3"), ("prior_weight", "-0.1"), ("query_prior_weight", "x"),
                             ("query_relevance_scale", "0"), ("exclude_history", "maybe"), ("instruction_form", "tournament"), ("relevance", "sigmoid"),
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
        try #"{"scoring": "calibrated", "prior_weight": 0.25, "query_prior_weight": 1, "instruction_form": "candidate_free", "relevance_scale": 0.5, "relevance_bias": -3, "query_relevance_scale": 0.3, "query_relevance_bias": 1.5, "exclude_history": true, "relevance_fit": {"history": {"auc": 0.8}}}"#
            .write(to: directory.appendingPathComponent("instructrec.json"), atomically: true, encoding: .utf8)
        let model = try load(["model": directory.path])
        XCTAssertEqual(model.defaultScoring, Scoring(mode: .calibrated, priorWeight: 0.25, queryPriorWeight: 1))
        XCTAssertEqual(model.instructionForm, .candidateFree)
        XCTAssertEqual(model.relevance, Relevance(mode: .logistic, scale: 0.5, bias: -3, queryScale: 0.3, queryBias: 1.5))
        XCTAssertTrue(model.excludeHistory)
        XCTAssertTrue(model.warnings.isEmpty, "relevance_fit is for people: read, never warned about: \(model.warnings)")
        XCTAssertEqual(model.sources["prior_weight"], directory.appendingPathComponent("instructrec.json").path)
        let operator_ = try load(["model": directory.path, "prior_weight": "0.75", "query_prior_weight": "null", "relevance": "softmax"])
        XCTAssertEqual(operator_.defaultScoring, Scoring(mode: .calibrated, priorWeight: 0.75))
        XCTAssertEqual(operator_.relevance.mode, .softmax)
        let builtIn = try load([:])
        XCTAssertEqual(builtIn.maxCandidates, 1000)
    }

    func testAQueryMappingNeedsBothHalvesAndRetiredKeysWarnWithoutFailing() throws {
        XCTAssertThrowsError(try load(["query_relevance_scale": "0.5", "query_relevance_bias": "null"])) { error in
            XCTAssertEqual((error as? ServiceConfiguration.Invalid)?.setting, "query_relevance_bias", "\(error)")
        }
        let old = try load(["unfamiliar_prior_weight": "0.9", "familiarity_threshold": "-5"])
        XCTAssertEqual(old.warnings.filter { $0.contains("no longer read") }.count, 2, "\(old.warnings)")
        XCTAssertEqual(old.defaultScoring, try load([:]).defaultScoring, "a retired key sets nothing")
    }

    func testRelevanceFitIsRefusedOutsideAModelDirectory() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("instructrec-fit-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try #"{"relevance_fit": {}}"#.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ServiceConfiguration.load(file: file.path, environment: [:], overrides: [:])) { error in
            XCTAssertEqual((error as? ServiceConfiguration.Invalid)?.setting, "relevance_fit", "\(error)")
        }
    }
}
