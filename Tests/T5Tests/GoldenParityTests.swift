import Foundation
import XCTest
@testable import T5

/// The engine against Hugging Face transformers on the same checkpoints.
/// Tolerances: 1e-4 on hidden states and logits, 1e-3 on scores.
final class GoldenParityTests: XCTestCase {
    func testT5v10ReluTiedMatchesTransformers() throws { try checkParity("t5-v1_0-tiny") }
    func testT5v11GatedGeluUntiedMatchesTransformers() throws { try checkParity("t5-v1_1-tiny") }
    func testBF16CheckpointMatchesItsOwnGolden() throws { try checkParity("t5-v1_1-tiny-bf16") }
    // The old packed batch (prefix sharing off) against the same goldens.
    func testT5v10UnsharedMatchesTransformers() throws { try checkParity("t5-v1_0-tiny", sharing: false) }
    func testT5v11UnsharedMatchesTransformers() throws { try checkParity("t5-v1_1-tiny", sharing: false) }
    /// F32 weights row-major through cblas_sgemm (where packing for OpenBLAS's kernel is unavailable or off).
    func testT5v11RowMajorMatchesTransformers() throws { try checkParity("t5-v1_1-tiny", packForBLAS: false) }
    func testT5v10RowMajorMatchesTransformers() throws { try checkParity("t5-v1_0-tiny", packForBLAS: false) }

    func checkParity(_ name: String, sharing: Bool = true, packForBLAS: Bool = true,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let weights = try T5Weights(directory: try Fixtures.model(name), packForBLAS: packForBLAS)
        let golden = try Fixtures.golden(name)
        let scorer = T5Scorer(weights: weights, threads: 2)
        scorer.options.sharesPrefixes = sharing
        var hidden = WorstDifference(), logits = WorstDifference(), scores = WorstDifference()
        for (caseName, testCase) in golden.cases.sorted(by: { $0.key < $1.key }) {
            let encoded = try scorer.encode(testCase.instruction)
            XCTAssertEqual(encoded.count, testCase.encoder_hidden.count)
            for (i, (a, e)) in zip(encoded, testCase.encoder_hidden).enumerated() {
                hidden.compare(a, e, "\(caseName) encoder[\(i / golden.d_model), \(i % golden.d_model)]")
            }
            let tokens = testCase.candidates.map(\.tokens)
            let allLogits = try scorer.logits(instruction: testCase.instruction, candidates: tokens)
            let result = try scorer.run(instruction: testCase.instruction, candidates: tokens)
            let means = result.means   // the per-token log-probabilities averaged, as InstructRec reduces them
            for (b, expected) in testCase.candidates.enumerated() {
                let rows = expected.tokens.count + 1
                let vocab = golden.vocab_size
                for position in 0..<rows {
                    let row = Array(allLogits[b][(position * vocab)..<((position + 1) * vocab)])
                    for (p, id) in golden.probe_ids.enumerated() {
                        logits.compare(row[id], expected.probe_logits[position * golden.probe_ids.count + p],
                                       "\(caseName) candidate \(b) position \(position) logit[\(id)]")
                    }
                    let target = position < expected.tokens.count ? Int(expected.tokens[position]) : 1
                    logits.compare(row[target], expected.target_logits[position], "\(caseName) candidate \(b) position \(position) target logit")
                    let lse = row.withUnsafeBufferPointer { VectorMath.logSumExp($0.baseAddress!, count: vocab) }
                    logits.compare(lse, expected.logsumexp[position], "\(caseName) candidate \(b) position \(position) logsumexp")
                    scores.compare(result.tokenLogProbabilities[b][position], expected.token_logprobs[position],
                                   "\(caseName) candidate \(b) token \(position) log-prob")
                }
                scores.compare(result.sums[b], expected.score_sum, "\(caseName) candidate \(b) sum score")
                scores.compare(result.sums[b], expected.score_sum_alone, "\(caseName) candidate \(b) sum score (alone)")
                scores.compare(means[b], expected.score_mean, "\(caseName) candidate \(b) mean score")
            }
        }
        print("[\(name)\(sharing ? "" : ", unshared")\(packForBLAS ? "" : ", row-major")] worst |Δ| hidden \(hidden.value) at \(hidden.location); logits \(logits.value) at \(logits.location); scores \(scores.value) at \(scores.location)")
        XCTAssertLessThanOrEqual(hidden.value, 1e-4, "encoder hidden worst at \(hidden.location)", file: file, line: line)
        XCTAssertLessThanOrEqual(logits.value, 1e-4, "logits worst at \(logits.location)", file: file, line: line)
        XCTAssertLessThanOrEqual(scores.value, 1e-3, "scores worst at \(scores.location)", file: file, line: line)
    }

    func testCandidateOrderAndBatchCompositionDoNotChangeScores() throws {
        let weights = try T5Weights(directory: try Fixtures.model("t5-v1_1-tiny"))
        let golden = try Fixtures.golden("t5-v1_1-tiny")
        let testCase = try XCTUnwrap(golden.cases["long"])
        let tokens = testCase.candidates.map(\.tokens)
        // Reordering moves rows between GEMM blocks (and, with prefix sharing,
        // changes which candidate computes a shared row), so allow a few ulps
        // of the score (about 1.5e-5 each at |score| 145), not a fixed 1e-5.
        func tolerance(_ x: Float) -> Float { max(1e-5, 4 * x.ulp) }
        for sharing in [true, false] {
            let scorer = T5Scorer(weights: weights)
            scorer.options.sharesPrefixes = sharing
            let forward = try scorer.score(instruction: testCase.instruction, candidates: tokens)
            let backward = try scorer.score(instruction: testCase.instruction, candidates: tokens.reversed())
            for (a, b) in zip(forward, backward.reversed()) { XCTAssertEqual(a, b, accuracy: tolerance(a), "sharing \(sharing)") }
            let alone = try scorer.score(instruction: testCase.instruction, candidates: [tokens[2]])
            XCTAssertEqual(alone[0], forward[2], accuracy: tolerance(alone[0]), "sharing \(sharing)")
        }
    }

    func testShardedCheckpointLoadsTheSameWeights() throws {
        let source = try Fixtures.model("t5-v1_0-tiny")
        let directory = try TemporaryDirectory()
        try SafeTensorsWriter.split(source.appendingPathComponent("model.safetensors"), into: directory.url, shards: 3)
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"),
                                         to: directory.url.appendingPathComponent("config.json"))
        let golden = try Fixtures.golden("t5-v1_0-tiny")
        let testCase = try XCTUnwrap(golden.cases["short"])
        let scores = try T5Scorer(weights: try T5Weights(directory: directory.url))
            .score(instruction: testCase.instruction, candidates: testCase.candidates.map(\.tokens))
        for (a, e) in zip(scores, testCase.candidates.map(\.score_sum)) { XCTAssertEqual(a, e, accuracy: 1e-3) }
    }

    func testInvalidTokenIdsAreRejected() throws {
        let scorer = T5Scorer(weights: try T5Weights(directory: try Fixtures.model("t5-v1_0-tiny")))
        XCTAssertThrowsError(try scorer.score(instruction: [], candidates: [[5]]))
        XCTAssertThrowsError(try scorer.score(instruction: [32128], candidates: [[5]]))
        XCTAssertThrowsError(try scorer.score(instruction: [5, 1], candidates: [[-1]])) { error in
            XCTAssertTrue("\(error)".contains("candidate 0"), "\(error)")
        }
        XCTAssertEqual(try scorer.score(instruction: [5, 1], candidates: []), [])
    }
}
