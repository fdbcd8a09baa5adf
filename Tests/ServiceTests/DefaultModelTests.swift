import Foundation
import XCTest
import T5
import Tokenizer

/// The shipped default model agrees with PyTorch on 20 fixed requests
/// (expectations from scripts/fixtures/make_default_model_fixtures.py).
final class DefaultModelTests: XCTestCase {
    struct Golden: Decodable {
        struct Request: Decodable {
            let instruction: String
            let instruction_ids: [Int32]
            let candidates: [String]
            let candidate_ids: [[Int32]]
            let scores: [Float]
        }
        let requests: [Request]
    }

    /// The shipped model's directory and the 20 requests scored by PyTorch.
    static func modelAndGolden() throws -> (directory: URL, golden: Golden) {
        let modelDirectory = ServiceProcess.root.appendingPathComponent("models/default")
        let goldenFile = ServiceProcess.root.appendingPathComponent("Tests/ServiceTests/Fixtures/default-model-golden.json")
        guard FileManager.default.fileExists(atPath: modelDirectory.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("no default model committed yet")
        }
        return (modelDirectory, try JSONDecoder().decode(Golden.self, from: Data(contentsOf: goldenFile)))
    }

    func testDefaultModelAgreesWithPyTorch() throws {
        let (modelDirectory, golden) = try Self.modelAndGolden()
        XCTAssertEqual(golden.requests.count, 20)
        let tokenizer = try Tokenizer.load(directory: modelDirectory)
        let scorer = T5Scorer(weights: try T5Weights(directory: modelDirectory), threads: 2)
        var worst: Float = 0
        for request in golden.requests {
            // Our tokenizer produces the same ids as the reference did.
            XCTAssertEqual(tokenizer.encode(request.instruction), request.instruction_ids)
            XCTAssertEqual(request.candidates.map { tokenizer.encode($0, addEOS: false) }, request.candidate_ids)
            let scores = try scorer.score(instruction: request.instruction_ids, candidates: request.candidate_ids)
            for (a, e) in zip(scores, request.scores) { worst = max(worst, abs(a - e)) }
        }
        print("default model vs PyTorch: worst |Δ| score \(worst)")
        XCTAssertLessThanOrEqual(worst, 1e-3)
    }

    /// `weights_dtype: int8` on the shipped model (d_model 128): the same 20 requests keep their best candidate
    /// and move little. Measured (every kernel gives the same numbers): best candidate kept in 19 of 20, 895 of
    /// 900 candidate pairs ordered alike, worst |Δ| of a summed title score 0.39; a wrong scale or offset
    /// reorders about half the pairs.
    func testInt8KeepsTheDefaultModelsRankings() throws {
        let (modelDirectory, golden) = try Self.modelAndGolden()
        let scorer = T5Scorer(weights: try T5Weights(directory: modelDirectory, dtype: .int8), threads: 2)
        var worst: Float = 0, sameBest = 0, pairs = 0, samePairs = 0
        for request in golden.requests {
            let scores = try scorer.score(instruction: request.instruction_ids, candidates: request.candidate_ids)
            for (a, e) in zip(scores, request.scores) { worst = max(worst, abs(a - e)) }
            if scores.indices.max(by: { scores[$0] < scores[$1] }) == request.scores.indices.max(by: { request.scores[$0] < request.scores[$1] }) {
                sameBest += 1
            }
            for i in scores.indices { for j in scores.indices where i < j {
                pairs += 1
                if (scores[i] < scores[j]) == (request.scores[i] < request.scores[j]) { samePairs += 1 }
            } }
        }
        print("default model int8 vs PyTorch F32: worst |Δ| score \(worst); best candidate kept \(sameBest) of \(golden.requests.count); pairs ordered alike \(samePairs) of \(pairs)")
        XCTAssertGreaterThanOrEqual(sameBest, 18)
        XCTAssertGreaterThanOrEqual(Double(samePairs) / Double(pairs), 0.95)
    }
}
