import Foundation
import XCTest
@testable import T5

/// The scorer with `weights_dtype: int8`: every kernel this CPU runs gives the reference kernel's scores
/// bit for bit (teacher-forced and pointwise, shared prefixes, a warm context cache), scores do not depend
/// on the other candidates, and they stay near F32's.
final class Int8ScoringTests: XCTestCase {
    func testEveryKernelScoresTheCheckpointBitForBitAsTheReference() throws {
        let directory = try Fixtures.model("t5-v1_1-tiny")
        let golden = try Fixtures.golden("t5-v1_1-tiny")
        let readout: [Int32] = [1176, 6136, 32089, 3]
        var reference: [[Float]] = []
        for kernel in Int8Kernel.available {
            let weights = try T5Weights(directory: directory, dtype: .int8, int8Kernel: kernel)
            XCTAssertEqual(weights.int8Kernel, kernel)
            let scorer = T5Scorer(weights: weights, threads: 2)
            var scores: [Float] = []
            for (_, testCase) in golden.cases.sorted(by: { $0.key < $1.key }) {
                let result = try scorer.run(instruction: testCase.instruction, candidates: testCase.candidates.map(\.tokens))
                scores += result.tokenLogProbabilities.flatMap { $0 }
                let pointwise = try scorer.run(batch: [ScoringInput(instruction: testCase.instruction, readout: readout)])[0].get()
                scores += pointwise.logits
            }
            if reference.isEmpty { reference.append(scores) }
            XCTAssertEqual(scores.map(\.bitPattern), reference[0].map(\.bitPattern), "\(kernel) against \(Int8Kernel.available[0])")
        }
    }

    /// Quantization moves scores, but not far: on flan-t5-like shapes at d_model 128 (a quarter of
    /// flan-t5-small's width; the fixtures' d_model 16 leaves per-row quantization too few terms to average),
    /// the worst token log-probability and per-candidate mean against the same weights in F32. Measured
    /// 0.055 and 0.020 (at d_model 64-512: 0.052-0.069 and 0.016-0.024); a wrong scale or offset moves them by
    /// whole nats.
    func testInt8ScoresStayNearF32() throws {
        let config = try T5Config(dModel: 128, dKV: 32, dFF: 256, numLayers: 2, numHeads: 4, vocabSize: 4000,
                                  feedForwardProj: "gated-gelu", tieWordEmbeddings: false)
        let weights = T5Weights(randomWithConfig: config, seed: 5)
        let f32 = T5Scorer(weights: weights, threads: 2)
        let int8 = T5Scorer(weights: weights.quantized(kernel: .fastest), threads: 2)
        let instruction = BatchScoringTests.tokens(60, seed: 3, vocab: 4000) + [1]
        let candidates = (0..<20).map { BatchScoringTests.tokens(3 + $0 % 5, seed: 100 + UInt64($0), vocab: 4000) }
        let exact = try f32.run(instruction: instruction, candidates: candidates)
        let approximate = try int8.run(instruction: instruction, candidates: candidates)
        var worstToken: Float = 0, worstMean: Float = 0
        for b in candidates.indices {
            for (x, y) in zip(exact.tokenLogProbabilities[b], approximate.tokenLogProbabilities[b]) {
                worstToken = max(worstToken, abs(x - y))
            }
            worstMean = max(worstMean, abs(exact.means[b] - approximate.means[b]))
        }
        print("int8 (\(Int8Kernel.fastest.rawValue)) vs F32 at d_model 128: worst |Δ| token log-prob \(worstToken), mean \(worstMean)")
        XCTAssertLessThanOrEqual(worstToken, 0.1)
        XCTAssertLessThanOrEqual(worstMean, 0.04)
        XCTAssertGreaterThan(worstToken, 0)   // it did run in int8
    }

    /// Activations are quantized per row, so a candidate's rows never see the others': its score alone
    /// equals its score in any batch, in any order, exactly.
    func testCandidateScoresDoNotDependOnTheOtherCandidates() throws {
        let weights = try T5Weights(directory: try Fixtures.model("t5-v1_1-tiny"), dtype: .int8)
        let scorer = T5Scorer(weights: weights, threads: 2)
        let instruction = BatchScoringTests.tokens(40, seed: 3, vocab: 32000) + [1]
        let candidates = (0..<12).map { BatchScoringTests.tokens(1 + $0 % 5, seed: 100 + UInt64($0), vocab: 32000) }
        let together = try scorer.run(instruction: instruction, candidates: candidates).sums
        let reversed = try scorer.run(instruction: instruction, candidates: candidates.reversed()).sums
        XCTAssertEqual(together.map(\.bitPattern), reversed.reversed().map(\.bitPattern))
        for (i, candidate) in candidates.enumerated() {
            XCTAssertEqual(try scorer.run(instruction: instruction, candidates: [candidate]).sums[0].bitPattern,
                           together[i].bitPattern, "candidate \(i)")
        }
    }

    func testAWarmContextCacheGivesTheColdScores() throws {
        let weights = try T5Weights(directory: try Fixtures.model("t5-v1_1-tiny"), dtype: .int8)
        let cached = T5Scorer(weights: weights, threads: 2)
        cached.contextCache = ContextCache(capacityBytes: 1 << 24)
        let cold = T5Scorer(weights: weights, threads: 2)
        let instruction = BatchScoringTests.tokens(30, seed: 4, vocab: 32000) + [1]
        let first = (0..<5).map { BatchScoringTests.tokens(3, seed: 200 + UInt64($0), vocab: 32000) }
        let second = (0..<5).map { BatchScoringTests.tokens(4, seed: 300 + UInt64($0), vocab: 32000) }
        _ = try cached.run(instruction: instruction, candidates: first)
        let warm = try cached.run(instruction: instruction, candidates: second).sums
        XCTAssertEqual(warm.map(\.bitPattern), try cold.run(instruction: instruction, candidates: second).sums.map(\.bitPattern))
        XCTAssertGreaterThan(cached.contextCache?.current.hits ?? 0, 0)
    }
}
