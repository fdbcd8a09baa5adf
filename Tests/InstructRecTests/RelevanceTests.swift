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
}
