import Foundation
import XCTest
@testable import T5
import Randomness

/// Several instruction groups scored in one pass (`T5Scorer.run(batch:)`)
/// against each scored alone: the same scores within float rounding, worst
/// difference reported.
final class BatchScoringTests: XCTestCase {
    /// A random model small enough for debug builds, T5 v1.1 style (gated GELU, untied lm_head).
    static func tinyGatedModel() throws -> T5Weights {
        let config = try T5Config(dModel: 32, dKV: 8, dFF: 48, numLayers: 2, numDecoderLayers: 2, numHeads: 4,
                                  vocabSize: 300, feedForwardProj: "gated-gelu")
        return T5Weights(randomWithConfig: config, seed: 7)
    }

    static func tokens(_ count: Int, seed: UInt64, vocab: Int) -> [Int32] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Int32.random(in: 2..<Int32(vocab), using: &rng) }
    }

    /// Inputs of different instruction lengths (1 token, under and over one
    /// 64-query attention block) and candidate counts (1 to 20), with shared
    /// title prefixes, an empty title, a duplicate and a 70-token title; the
    /// same candidate list under two instructions; both reductions.
    static func inputs(vocab: Int) -> [ScoringInput] {
        let base = tokens(6, seed: 1, vocab: vocab)
        var shared: [[Int32]] = [base, Array(base[0..<3])]
        for k in 0...5 { shared.append(Array(base[0..<k]) + tokens(2, seed: 10 + UInt64(k), vocab: vocab)) }
        shared.append([])
        shared.append(base)
        let many = (0..<20).map { tokens(1 + $0 % 7, seed: 100 + UInt64($0), vocab: vocab) }
        return [
            ScoringInput(instruction: [1], candidates: [tokens(4, seed: 2, vocab: vocab)]),
            ScoringInput(instruction: tokens(9, seed: 3, vocab: vocab) + [1], candidates: shared),
            ScoringInput(instruction: tokens(70, seed: 4, vocab: vocab) + [1], candidates: many),
            ScoringInput(instruction: tokens(23, seed: 5, vocab: vocab) + [1], candidates: shared),
            ScoringInput(instruction: tokens(130, seed: 6, vocab: vocab) + [1],
                         candidates: [tokens(70, seed: 7, vocab: vocab), tokens(3, seed: 8, vocab: vocab)]),
        ]
    }

    /// Compositions of 2 to 5 inputs, in several orders.
    static let compositions: [[Int]] = [[0, 1], [2, 4], [1, 3, 0], [4, 3, 2, 1], [0, 1, 2, 3, 4], [3, 0, 4, 2, 1]]

    func testBatchScoresEqualOneByOneGatedSharing() throws {
        try checkBatchAgainstAlone(weights: try Self.tinyGatedModel(), sharing: true, threads: 2)
    }

    /// Lanes off: every composition runs as packed passes over all three threads.
    func testBatchScoresEqualOneByOneGatedUnshared() throws {
        try checkBatchAgainstAlone(weights: try Self.tinyGatedModel(), sharing: false, threads: 3, lanes: false)
    }

    /// T5 v1.0 (ReLU, tied lm_head with the decoder-output rescale), the checkpoint the golden tests use.
    func testBatchScoresEqualOneByOneT5v10() throws {
        // Its 32128-word lm_head is slow in debug builds: the two batches of all five inputs only.
        try checkBatchAgainstAlone(weights: try T5Weights(directory: try Fixtures.model("t5-v1_0-tiny")),
                                   sharing: true, threads: 2, compositions: Array(Self.compositions.suffix(2)))
    }

    func checkBatchAgainstAlone(weights: T5Weights, sharing: Bool, threads: Int, lanes: Bool = true,
                                compositions: [[Int]] = compositions,
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let inputs = Self.inputs(vocab: weights.config.vocabSize)
        // Alone on its own scorer, so its workspace never saw a batch.
        let aloneScorer = T5Scorer(weights: weights, threads: threads)
        aloneScorer.options.sharesPrefixes = sharing
        let alone = try inputs.map { try aloneScorer.run(instruction: $0.instruction, candidates: $0.candidates) }
        let scorer = T5Scorer(weights: weights, threads: threads)
        scorer.options.sharesPrefixes = sharing
        scorer.options.splitsAcrossThreads = lanes
        var scores = WorstDifference(), tokens = WorstDifference()
        for composition in compositions {
            let results = scorer.run(batch: composition.map { inputs[$0] })
            XCTAssertEqual(results.count, composition.count, file: file, line: line)
            for (slot, (index, result)) in zip(composition, results).enumerated() {
                let batched = try result.get(), expected = alone[index]
                if lanes {   // a packed pass of all, or one lane's share
                    XCTAssertTrue((1...composition.count).contains(batched.batchInputs), "\(batched.batchInputs)", file: file, line: line)
                } else {
                    XCTAssertEqual(batched.batchInputs, composition.count, file: file, line: line)
                }
                XCTAssertEqual(batched.decoderRows, expected.decoderRows, file: file, line: line)
                XCTAssertEqual(batched.candidateRows, expected.candidateRows, file: file, line: line)
                XCTAssertEqual(batched.sums.count, inputs[index].candidates.count, file: file, line: line)
                let place = "batch \(composition) slot \(slot) (input \(index))"
                for (b, (a, e)) in zip(batched.sums, expected.sums).enumerated() {
                    // relative to max(1, |score|): sums of up to 71 log-probs
                    let scale = max(1, abs(e))
                    scores.compare(a / scale, e / scale, "\(place) candidate \(b) (score \(e))")
                }
                for (b, (a, e)) in zip(batched.tokenLogProbabilities, expected.tokenLogProbabilities).enumerated() {
                    XCTAssertEqual(a.count, e.count, file: file, line: line)
                    for (p, (x, y)) in zip(a, e).enumerated() { tokens.compare(x, y, "\(place) candidate \(b) token \(p)") }
                }
            }
        }
        print("[batch vs alone, \(weights.config.feedForwardProj), sharing \(sharing), \(threads) threads] worst |Δ| score (relative) \(scores.value) at \(scores.location); token log-prob \(tokens.value) at \(tokens.location)")
        XCTAssertLessThanOrEqual(scores.value, 1e-5, scores.location, file: file, line: line)
        XCTAssertLessThanOrEqual(tokens.value, 1e-5, tokens.location, file: file, line: line)
    }

    /// A call larger than `maxPassTokens` runs as several passes (an input larger than the budget alone),
    /// in order, with the same scores as each input alone; a reserved workspace changes nothing.
    func testCallsLargerThanOnePassSplitIntoPassesWithTheSameScores() throws {
        let weights = try Self.tinyGatedModel()
        let inputs = Self.inputs(vocab: weights.config.vocabSize)
        let alone = T5Scorer(weights: weights, threads: 2)
        let split = T5Scorer(weights: weights, threads: 2)
        split.options.maxPassTokens = 150
        split.options.splitsAcrossThreads = false   // passes of one packed call; lanes have their own test
        split.reservePass()
        let results = split.run(batch: inputs)
        let tokens = inputs.map { $0.instruction.count + $0.candidates.reduce(0) { $0 + $1.count + 1 } }
        var passSizes: [Int] = []
        for (i, input) in inputs.enumerated() {
            let batched = try results[i].get()
            let reference = try alone.run(instruction: input.instruction, candidates: input.candidates)
            for (a, b) in zip(batched.sums, reference.sums) {
                XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "input \(i)")
            }
            passSizes.append(batched.batchInputs)
            if tokens[i] > 150 { XCTAssertEqual(batched.batchInputs, 1, "input \(i) (\(tokens[i]) tokens) runs alone") }
        }
        XCTAssertTrue(passSizes.contains { $0 > 1 }, "small inputs still share a pass: \(passSizes) for \(tokens)")
        XCTAssertTrue(passSizes.allSatisfy { $0 < inputs.count }, "the call was split: \(passSizes)")
    }

    func testBadInputFailsOnlyItself() throws {
        let weights = try Self.tinyGatedModel()
        let inputs = Self.inputs(vocab: weights.config.vocabSize)
        let scorer = T5Scorer(weights: weights, threads: 2)
        scorer.options.splitsAcrossThreads = false   // so "only the good inputs ran" is one pass's count
        let batch = [
            inputs[1],
            ScoringInput(instruction: [5, 300, 1], candidates: [[4]]),                  // id outside the vocabulary
            ScoringInput(instruction: [], candidates: [[4]]),                           // no instruction
            ScoringInput(instruction: [5, 1], candidates: []),                          // nothing to score
            ScoringInput(instruction: [5, 1], candidates: [[4], [-2]]),                 // bad candidate id
            inputs[2],
        ]
        let results = scorer.run(batch: batch)
        XCTAssertEqual(results.count, batch.count)
        func failure(_ result: Result<ScoreResult, T5Error>) -> String? {
            if case let .failure(error) = result { return "\(error)" }
            return nil
        }
        XCTAssertTrue(failure(results[1])?.contains("instruction token 1 is id 300") ?? false, "\(results[1])")
        XCTAssertTrue(failure(results[2])?.contains("no tokens") ?? false, "\(results[2])")
        XCTAssertEqual(try results[3].get().sums, [])
        XCTAssertTrue(failure(results[4])?.contains("candidate 1") ?? false, "\(results[4])")
        for (slot, index) in [(0, 1), (5, 2)] {
            let batched = try results[slot].get()
            XCTAssertEqual(batched.batchInputs, 2, "only the two good inputs with candidates ran")
            let alone = try T5Scorer(weights: weights, threads: 2)
                .score(instruction: inputs[index].instruction, candidates: inputs[index].candidates)
            for (a, e) in zip(batched.sums, alone) { XCTAssertEqual(a, e, accuracy: 1e-5 * max(1, abs(e))) }
        }
        // A batch with nothing to run returns every input's own outcome.
        let empty = scorer.run(batch: [batch[2], batch[3]])
        XCTAssertNotNil(failure(empty[0]))
        XCTAssertEqual(try empty[1].get().sums, [])
    }

    /// A call whose inputs split evenly over the threads runs one packed batch per thread (a lane, one
    /// thread each), with the same scores as each input alone; an uneven call stays one packed batch.
    func testEvenCallsRunOnePackedBatchPerThreadWithTheSameScores() throws {
        let weights = try Self.tinyGatedModel()
        let vocab = weights.config.vocabSize
        // Four inputs of equal cost (12-token instructions, 5 candidates of 3 tokens), different tokens.
        let even = (0..<4).map { k in
            ScoringInput(instruction: Self.tokens(11, seed: 40 + UInt64(k), vocab: vocab) + [1],
                         candidates: (0..<5).map { Self.tokens(3, seed: 50 + UInt64(10 * k + $0), vocab: vocab) })
        }
        let scorer = T5Scorer(weights: weights, threads: 2)
        let alone = T5Scorer(weights: weights, threads: 2)
        let results = scorer.run(batch: even)
        var worst = WorstDifference()
        for (i, input) in even.enumerated() {
            let batched = try results[i].get()
            XCTAssertEqual(batched.batchInputs, 2, "input \(i) ran in a lane of two")
            let reference = try alone.run(instruction: input.instruction, candidates: input.candidates)
            XCTAssertEqual(batched.sums.count, input.candidates.count)
            for (b, (a, e)) in zip(batched.sums, reference.sums).enumerated() {
                worst.compare(a / max(1, abs(e)), e / max(1, abs(e)), "input \(i) candidate \(b)")
            }
        }
        print("[lanes vs alone] worst |Δ| score (relative) \(worst.value) at \(worst.location)")
        XCTAssertLessThanOrEqual(worst.value, 1e-5, worst.location)

        // One large input beside a small one: lanes would leave a thread idle, so one packed pass.
        let uneven = [Self.inputs(vocab: vocab)[4], even[0]]
        for result in scorer.run(batch: uneven) { XCTAssertEqual(try result.get().batchInputs, 2) }
    }

    func testLanePlanBalancesCostsOrRefuses() {
        XCTAssertEqual(T5Scorer.lanes(costs: [10, 10, 10, 10], lanes: 2), [[0, 2], [1, 3]])
        XCTAssertEqual(T5Scorer.lanes(costs: [30, 10, 10, 10], lanes: 2), [[0], [1, 2, 3]])
        XCTAssertNil(T5Scorer.lanes(costs: [40, 10, 10, 10], lanes: 2), "40 against a mean of 35")
        XCTAssertEqual(T5Scorer.lanes(costs: [10, 11, 12], lanes: 3), [[2], [1], [0]], "largest first, to the least loaded lane")
        XCTAssertEqual(T5Scorer.lanes(costs: [10, 12], lanes: 2), [[1], [0]], "12 against a mean of 11: 1.09x")
        XCTAssertNil(T5Scorer.lanes(costs: [10, 13], lanes: 2), "13 against a mean of 11.5: 1.13x")
        XCTAssertNil(T5Scorer.lanes(costs: [100, 5], lanes: 2), "the busiest lane would be 1.9x the mean")
        XCTAssertNil(T5Scorer.lanes(costs: [10, 10, 10], lanes: 2), "20 against 10: 1.33x the mean")
        XCTAssertNil(T5Scorer.lanes(costs: [10], lanes: 2), "one input")
        XCTAssertNil(T5Scorer.lanes(costs: [10, 10], lanes: 1), "one thread")
    }

    func testGroupsShareTitlePrefixesOnlyWithinThemselves() {
        let candidates: [[Int32]] = [[5, 6, 7], [5, 6, 8], [9]]
        let one = DecoderTree(candidates: candidates, start: 0, eos: 1, sharing: true)
        let two = DecoderTree(groups: [candidates, candidates, [[5, 6]]], start: 0, eos: 1, sharing: true)
        XCTAssertEqual(one.rows, 6)   // root, 5, 5-6, 5-6-7, 5-6-8, 9
        XCTAssertEqual(two.groups, 3)
        XCTAssertEqual(two.groupRowStart, [0, 6, 12, 15])
        XCTAssertEqual(two.groupCandidateStart, [0, 3, 6, 7])
        XCTAssertEqual(two.rows, 15)
        // Group 1 is group 0 shifted by its rows and positions.
        for b in 0..<3 {
            XCTAssertEqual(two.ownedStart[3 + b], one.ownedStart[b] + 6)
            XCTAssertEqual(two.offsets[3 + b], one.offsets[b] + one.positions)
            for p in 0..<one.lengths[b] {
                XCTAssertEqual(two.nodeOfPosition[two.offsets[3 + b] + p], one.nodeOfPosition[one.offsets[b] + p] + 6)
            }
        }
        // Every candidate's path stays inside its own group's rows.
        for g in 0..<two.groups {
            for b in two.groupCandidateStart[g]..<two.groupCandidateStart[g + 1] {
                for p in 0..<two.lengths[b] {
                    XCTAssertTrue((two.groupRowStart[g]..<two.groupRowStart[g + 1]).contains(two.nodeOfPosition[two.offsets[b] + p]))
                }
            }
        }
    }

    func testBalancedSplitCoversEveryItemOnceWithEvenCost() {
        let cases: [[Double]] = [[1], [1, 1], [5, 1, 1, 1, 1, 1], Array(repeating: 3, count: 8), [0, 0, 0], [100, 1, 1, 1, 1, 1, 1, 1, 1, 100],
                                 (0..<40).map { Double(($0 % 5) * ($0 % 5)) }]
        for costs in cases {
            for threads in 1...4 {
                let lock = NSLock()
                var seen: [(Range<Int>, Int)] = []
                Parallel.forEach(costs: costs, threads: threads) { range, worker in
                    lock.lock(); seen.append((range, worker)); lock.unlock()
                }
                let ranges = seen.sorted { $0.0.lowerBound < $1.0.lowerBound }
                XCTAssertEqual(ranges.flatMap { Array($0.0) }, Array(costs.indices), "costs \(costs) threads \(threads)")
                XCTAssertEqual(Set(ranges.map(\.1)).count, ranges.count, "one range per worker")
                XCTAssertTrue(ranges.allSatisfy { $0.1 < threads })
                // No worker holds more than its share plus one item.
                let total = costs.reduce(0, +), share = total / Double(min(threads, costs.count))
                for (range, _) in ranges {
                    XCTAssertLessThanOrEqual(costs[range].reduce(0, +), share + (costs.max() ?? 0), "costs \(costs) threads \(threads)")
                }
            }
        }
        // Equal costs over a multiple of the threads: the same split as forEach (heads of one instruction).
        var balanced: [Range<Int>] = [], plain: [Range<Int>] = []
        let lock = NSLock()
        Parallel.forEach(costs: Array(repeating: 2, count: 8), threads: 2) { range, _ in lock.lock(); balanced.append(range); lock.unlock() }
        Parallel.forEach(8, threads: 2) { range, _ in lock.lock(); plain.append(range); lock.unlock() }
        XCTAssertEqual(balanced.sorted { $0.lowerBound < $1.lowerBound }, plain.sorted { $0.lowerBound < $1.lowerBound })
    }
}
