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

    func testDefaultModelAgreesWithPyTorch() throws {
        let modelDirectory = ServiceProcess.root.appendingPathComponent("models/default")
        let goldenFile = ServiceProcess.root.appendingPathComponent("Tests/ServiceTests/Fixtures/default-model-golden.json")
        guard FileManager.default.fileExists(atPath: modelDirectory.appendingPathComponent("model.safetensors").path) else {
            throw XCTSkip("no default model committed yet")
        }
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: goldenFile))
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
}
