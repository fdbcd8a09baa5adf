import Foundation
import XCTest
@testable import T5
import Randomness

/// Pointwise inputs (one encoder input each, logits of a few vocabulary rows at the first
/// decoder step) scored in one call with teacher-forced groups, across passes and lanes,
/// against each scored alone and against the full decoder logits.
final class PointwiseBatchTests: XCTestCase {
    func testPointwiseInputsInAMixedBatchEqualEachAlone() throws {
        let weights = try BatchScoringTests.tinyGatedModel()
        let vocab = weights.config.vocabSize
        let readout: [Int32] = [17, 251]
        var inputs = BatchScoringTests.inputs(vocab: vocab)
        for k in 0..<9 {
            let length = [1, 5, 64, 65, 130, 7, 12, 40, 3][k]
            inputs.insert(ScoringInput(instruction: BatchScoringTests.tokens(length, seed: 500 + UInt64(k), vocab: vocab) + [1], readout: readout),
                          at: min(inputs.count, k * 2))
        }
        for threads in [1, 2] {
            let batched = T5Scorer(weights: weights, threads: threads)
            batched.options.maxPassTokens = 160   // several passes, each all pointwise or all teacher-forced
            let results = batched.run(batch: inputs)
            let alone = T5Scorer(weights: weights, threads: 1)
            var worst: Float = 0
            for (input, result) in zip(inputs, results) {
                let got = try result.get()
                let expected = try alone.run(batch: [input])[0].get()
                if input.readout != nil {
                    XCTAssertEqual(got.logits.count, 2)
                    XCTAssertTrue(got.sums.isEmpty)
                    for (a, b) in zip(got.logits, expected.logits) { worst = max(worst, abs(a - b)) }
                    // The two rows read equal the full vocabulary projection's entries at the first step.
                    let full = try alone.logits(instruction: input.instruction, candidates: [[]])[0]
                    for (k, id) in readout.enumerated() { XCTAssertEqual(got.logits[k], full[Int(id)], accuracy: 1e-4) }
                } else {
                    for (a, b) in zip(got.sums, expected.sums) { worst = max(worst, abs(a - b)) }
                }
            }
            print("pointwise + teacher-forced batch (threads \(threads)) vs alone: worst |Δ| \(worst)")
            XCTAssertLessThanOrEqual(worst, 1e-4)
        }
    }

    func testABadReadoutFailsOnlyItsInput() throws {
        let weights = try BatchScoringTests.tinyGatedModel()
        let scorer = T5Scorer(weights: weights, threads: 1)
        let results = scorer.run(batch: [
            ScoringInput(instruction: [5, 6, 1], readout: [Int32(weights.config.vocabSize)]),
            ScoringInput(instruction: [5, 6, 1], readout: []),
            ScoringInput(instruction: [5, 6, 1], readout: [3]),
        ])
        guard case .failure(.invalidInput) = results[0], case .failure(.invalidInput) = results[1] else {
            return XCTFail("\(results)")
        }
        XCTAssertEqual(try results[2].get().logits.count, 1)
    }

    /// The first-step decoder on 16-bit weights kept 16-bit (K/V rows widened per head) and on a
    /// v1.0 checkpoint (ReLU, tied, rescaled output) equals the general decoder's logits.
    func testFirstStepDecoderMatchesTheGeneralDecoderOnCheckpoints() throws {
        for name in ["t5-v1_1-tiny-bf16", "t5-v1_0-tiny"] {
            let weights = try T5Weights(directory: try Fixtures.model(name))
            let scorer = T5Scorer(weights: weights, threads: 2)
            let readout: [Int32] = [1176, 6136, 32089, 3]
            let inputs = [5, 150, 17].enumerated().map { k, length in
                BatchScoringTests.tokens(length, seed: 900 + UInt64(k), vocab: 32000) + [1]
            }
            let results = scorer.run(batch: inputs.map { ScoringInput(instruction: $0, readout: readout) })
            var worst: Float = 0
            for (input, result) in zip(inputs, results) {
                let full = try scorer.logits(instruction: input, candidates: [[]])[0]
                for (k, id) in readout.enumerated() { worst = max(worst, abs(try result.get().logits[k] - full[Int(id)])) }
            }
            print("\(name): first-step readout vs the general decoder: worst |Δ| \(worst)")
            XCTAssertLessThanOrEqual(worst, 1e-4, name)
        }
    }
}
