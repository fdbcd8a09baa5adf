import Foundation
import XCTest
@testable import T5

/// Golden outputs written by scripts/fixtures/make_t5_fixtures.py (HF transformers, PyTorch).
struct Golden: Decodable {
    struct Candidate: Decodable {
        let tokens: [Int32]
        let logsumexp: [Float]
        let probe_logits: [Float]
        let target_logits: [Float]
        let token_logprobs: [Float]
        let score_sum: Float
        let score_mean: Float
        let score_sum_alone: Float
    }
    struct Case: Decodable {
        let instruction: [Int32]
        let encoder_hidden: [Float]
        let candidates: [Candidate]
    }
    let probe_ids: [Int]
    let d_model: Int
    let vocab_size: Int
    let cases: [String: Case]
}

enum Fixtures {
    static var root: URL {
        get throws {
            guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
                throw XCTSkip("fixtures missing from the test bundle")
            }
            return url
        }
    }

    static func model(_ name: String) throws -> URL { try root.appendingPathComponent(name) }

    static func golden(_ name: String) throws -> Golden {
        let data = try Data(contentsOf: try model(name).appendingPathComponent("golden.json"))
        return try JSONDecoder().decode(Golden.self, from: data)
    }
}

/// Tracks the largest absolute difference, with where it happened, so a
/// failing parity test says how far off and where.
struct WorstDifference {
    var value: Float = 0
    var location = ""

    mutating func compare(_ actual: Float, _ expected: Float, _ location: @autoclosure () -> String) {
        let difference = abs(actual - expected)
        if !(difference <= value) {  // also catches NaN
            value = difference.isNaN ? .infinity : difference
            self.location = location()
        }
    }
}
