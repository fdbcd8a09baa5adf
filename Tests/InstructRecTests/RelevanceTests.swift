import Randomness
import XCTest
@testable import InstructRec

/// relevance_score: a logistic of the candidate's own score by default, the softmax by name.
final class RelevanceTests: XCTestCase {
    func testLogisticDependsOnTheScoreAloneAndALoneCandidateIsNotCertain() {
        let relevance = Relevance(mode: .logistic, scale: 0.5, bias: -2)
        XCTAssertEqual(relevance.values([-10])[0], Float(1 / (1 + exp(7.0))), accuracy: 1e-7)
        XCTAssertEqual(relevance.values([-10, 4, 8])[0], relevance.values([-10])[0], "other candidates do not move it")
        XCTAssertLessThan(relevance.values([-30])[0], 0.01)
        XCTAssertEqual(Relevance(mode: .logistic).values([-1000, 1000]), [0, 1], "no overflow at the extremes")
    }

    func testSoftmaxSumsToOneOverTheRequest() {
        let values = Relevance(mode: .softmax).values([-3, -1, -2])
        XCTAssertEqual(values.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(Relevance(mode: .softmax).values([-50]), [1])
    }

    func testFitRecoversAKnownLogistic() {
        // labels drawn from σ(0.8·x − 3) on a grid of scores (deterministic "sampling" by thresholds)
        var scores: [Float] = [], labels: [Bool] = []
        var generator = SplitMix64(seed: 7)
        for _ in 0..<20000 {
            let x = Float.random(in: -4...12, using: &generator)
            let p = 1 / (1 + exp(-(0.8 * Double(x) - 3)))
            scores.append(x)
            labels.append(Double.random(in: 0..<1, using: &generator) < p)
        }
        let (scale, bias) = Relevance.fit(scores: scores, labels: labels)
        XCTAssertEqual(scale, 0.8, accuracy: 0.05)
        XCTAssertEqual(bias, -3, accuracy: 0.2)
    }

    func testFitWithOneClassOnlyKeepsTheIdentity() {
        let (scale, bias) = Relevance.fit(scores: [1, 2, 3], labels: [false, false, false])
        XCTAssertEqual(scale, 1)
        XCTAssertEqual(bias, 0)
    }

    func testWeightsBalanceTheClassesSoZeroPointFiveIsEvenOdds() {
        // One relevant score of 4 per case against nine irrelevant scores of 0: unweighted, the base rate of 10 %
        // pulls σ at 4 below certainty; with each class weighted equally the boundary sits midway, at 2.
        var scores: [Float] = [], labels: [Bool] = [], weights: [Double] = []
        var generator = SplitMix64(seed: 3)
        for _ in 0..<500 {
            scores.append(4 + Float.random(in: -3...3, using: &generator)); labels.append(true); weights.append(1)
            for _ in 0..<9 {
                scores.append(Float.random(in: -3...3, using: &generator)); labels.append(false); weights.append(1.0 / 9)
            }
        }
        let (scale, bias) = Relevance.fit(scores: scores, labels: labels, weights: weights)
        XCTAssertEqual(-bias / scale, 2, accuracy: 0.15, "σ = 0.5 halfway between the classes")
        let (plainScale, plainBias) = Relevance.fit(scores: scores, labels: labels)
        XCTAssertGreaterThan(-plainBias / plainScale, 2.4, "the unweighted fit moves the boundary towards the rare class")
    }

    func testQueryContextsUseTheirOwnLogistic() {
        let relevance = Relevance(mode: .logistic, scale: 0.1, bias: -2, queryScale: 0.5, queryBias: 1)
        XCTAssertEqual(relevance.resolved(for: .history), Relevance(mode: .logistic, scale: 0.1, bias: -2))
        XCTAssertEqual(relevance.resolved(for: .query), Relevance(mode: .logistic, scale: 0.5, bias: 1))
        XCTAssertEqual(Relevance(mode: .logistic, scale: 0.1, bias: -2).resolved(for: .query).scale, 0.1, "no query mapping: the one mapping")
    }

    func testRocAUCCountsTiesOneHalfAndHonoursWeights() {
        XCTAssertEqual(Relevance.rocAUC(scores: [3, 2, 1, 0], labels: [true, true, false, false]), 1)
        XCTAssertEqual(Relevance.rocAUC(scores: [0, 1], labels: [true, false]), 0)
        XCTAssertEqual(Relevance.rocAUC(scores: [1, 1], labels: [true, false]), 0.5)
        XCTAssertEqual(Relevance.rocAUC(scores: [2, 3, 1], labels: [true, false, false], weights: [1, 3, 1]), 0.25,
                       "the outscoring negative carries three quarters of the negative weight")
        XCTAssertTrue(Relevance.rocAUC(scores: [1], labels: [true]).isNaN)
    }
}

/// The context's reference score: the median of the reference titles' scores.
final class RelevanceReferenceTests: XCTestCase {
    func testTheOffsetIsTheMedianSoOneMatchingReferenceDoesNotMoveIt() {
        XCTAssertEqual(RelevanceReference.offset([3, -1, 2]), 2)
        XCTAssertEqual(RelevanceReference.offset([4, 1, 2, 3]), 2.5)
        XCTAssertEqual(RelevanceReference.offset([1, 2, 3, 40]), RelevanceReference.offset([1, 2, 3, 4]), "an outlier above the middle")
        XCTAssertEqual(RelevanceReference.offset([]), 0)
    }

    func testTheLogisticReadsTheScoreLessTheOffset() {
        let relevance = Relevance(mode: .logistic, scale: 0.5, bias: -1)
        XCTAssertEqual(relevance.values([7], offset: 3), relevance.values([4]))
        XCTAssertEqual(Relevance(mode: .raw).values([7], offset: 3), [7], "raw is the score itself")
    }
}

/// Recent contexts' offsets: found again by instruction and scoring, the oldest dropped first.
final class ReferenceOffsetCacheTests: XCTestCase {
    func testOffsetsAreKeptPerInstructionAndScoringAndTheOldestGoFirst() {
        let cache = ReferenceOffsetCache(maxEntries: 2)
        let a = ReferenceOffsetCache.Key(instruction: [1, 2], mode: .calibrated, priorWeight: 1)
        let b = ReferenceOffsetCache.Key(instruction: [1, 2], mode: .calibrated, priorWeight: 0.5)
        let c = ReferenceOffsetCache.Key(instruction: [3], mode: .sum, priorWeight: 0)
        cache.insert(4, for: a)
        cache.insert(7, for: b)
        XCTAssertEqual(cache.offset(for: a), 4)
        XCTAssertEqual(cache.offset(for: b), 7, "another α is another offset")
        cache.insert(9, for: c)
        XCTAssertNil(cache.offset(for: a), "the oldest went")
        XCTAssertEqual(cache.offset(for: c), 9)
        XCTAssertEqual(cache.count, 2)
        XCTAssertNil(ReferenceOffsetCache(maxEntries: 0).offset(for: a))
    }
}
