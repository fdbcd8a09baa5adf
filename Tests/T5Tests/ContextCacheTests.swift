import Foundation
import XCTest
@testable import T5
import Randomness

/// The context cache: a context asked again decodes against the exact K/V its first pass computed, agrees
/// with a scorer without a cache, is computed once by concurrent passes, and stays within its bytes.
final class ContextCacheTests: XCTestCase {
    typealias Batch = BatchScoringTests

    func scores(_ scorer: T5Scorer, _ inputs: [ScoringInput]) throws -> [[[Float]]] {
        try scorer.run(batch: inputs).map { try $0.get().tokenLogProbabilities }
    }

    func testAHitGivesWhatItsMissGaveAndAgreesWithoutACache() throws {
        let weights = try Batch.tinyGatedModel()
        let vocab = weights.config.vocabSize
        let cache = ContextCache(capacityBytes: 64 << 20)
        let cached = T5Scorer(weights: weights, threads: 2), plain = T5Scorer(weights: weights, threads: 2)
        cached.contextCache = cache
        let inputs = Batch.inputs(vocab: vocab)
        let first = try scores(cached, inputs)                        // every context a miss
        XCTAssertEqual(cache.current.misses, inputs.count)
        let second = try scores(cached, inputs)                       // every context a hit
        XCTAssertEqual(cache.current.hits, inputs.count)
        XCTAssertEqual(first, second, "a hit decodes against the bits its miss computed")
        let reference = try scores(plain, inputs)
        var worst: Float = 0
        for (a, b) in zip(first, reference) { for (x, y) in zip(a, b) { for (u, v) in zip(x, y) { worst = max(worst, abs(u - v)) } } }
        XCTAssertLessThanOrEqual(worst, 1e-5, "worst |cached − uncached| log-probability")
        // Another candidate list under a cached context, beside a new context in the same pass.
        let mixed = [ScoringInput(instruction: inputs[2].instruction, candidates: [Batch.tokens(5, seed: 77, vocab: vocab)]),
                     ScoringInput(instruction: Batch.tokens(40, seed: 78, vocab: vocab) + [1], candidates: [Batch.tokens(3, seed: 79, vocab: vocab)])]
        let withCache = try scores(cached, mixed), without = try scores(plain, mixed)
        for (a, b) in zip(withCache.joined().joined(), without.joined().joined()) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(cache.current.misses, inputs.count + 1)
    }

    func testOneContextTwiceInAPassIsComputedOnce() throws {
        let weights = try Batch.tinyGatedModel()
        let cache = ContextCache(capacityBytes: 64 << 20)
        let scorer = T5Scorer(weights: weights, threads: 1)
        scorer.contextCache = cache
        let instruction = Batch.tokens(30, seed: 5, vocab: 300) + [1]
        let twice = [ScoringInput(instruction: instruction, candidates: [[5, 6]]), ScoringInput(instruction: instruction, candidates: [[7]])]
        let answers = try scores(scorer, twice)
        XCTAssertEqual(cache.current.misses, 1)
        let plain = T5Scorer(weights: weights, threads: 1)
        for (a, b) in zip(answers.joined().joined(), try scores(plain, twice).joined().joined()) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testConcurrentPassesWithOneContextComputeItOnce() throws {
        let weights = try Batch.tinyGatedModel()
        let cache = ContextCache(capacityBytes: 64 << 20)
        let instruction = Batch.tokens(200, seed: 9, vocab: 300) + [1]
        let scorers = (0..<4).map { _ in T5Scorer(weights: weights, threads: 1) }
        for scorer in scorers { scorer.contextCache = cache }
        let group = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        for (index, scorer) in scorers.enumerated() {
            group.enter()
            Thread.detachNewThread {
                start.wait()
                _ = scorer.run(batch: [ScoringInput(instruction: instruction, candidates: [[Int32(10 + index)]])])
                group.leave()
            }
        }
        for _ in scorers { start.signal() }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(cache.current.misses, 1, "one pass computed it; the others waited for it")
        XCTAssertEqual(cache.current.hits, 3)
    }

    /// Pointwise inputs (a query and document window asked again) take their readout logits from the cache.
    func testPointwiseInputsAskedAgainAreHits() throws {
        let weights = try Batch.tinyGatedModel()
        let cache = ContextCache(capacityBytes: 1 << 20)
        let cached = T5Scorer(weights: weights, threads: 2), plain = T5Scorer(weights: weights, threads: 2)
        cached.contextCache = cache
        let inputs = (0..<4).map { ScoringInput(instruction: Batch.tokens(20 + 7 * $0, seed: 600 + UInt64($0), vocab: 300) + [1], readout: [17, 251]) }
        let logits = { (scorer: T5Scorer, batch: [ScoringInput]) throws -> [[Float]] in try scorer.run(batch: batch).map { try $0.get().logits } }
        let first = try logits(cached, inputs)
        XCTAssertEqual(cache.current.misses, 4)
        // Asked again, one new input among them and one twice: the repeats are hits, equal to their first answers.
        let again = [inputs[2], ScoringInput(instruction: [9, 9, 1], readout: [17, 251]), inputs[0], inputs[0]]
        let second = try logits(cached, again)
        XCTAssertEqual(second[0], first[2])
        XCTAssertEqual(second[2], first[0])
        XCTAssertEqual(second[3], first[0])
        XCTAssertEqual(cache.current.hits, 3)
        XCTAssertEqual(cache.current.misses, 5)
        for (a, b) in zip(second.joined(), try logits(plain, again).joined()) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        // Another readout of the same input is another entry.
        _ = try logits(cached, [ScoringInput(instruction: inputs[1].instruction, readout: [30])])
        XCTAssertEqual(cache.current.misses, 6)
    }

    func testTheCacheStaysWithinItsBytesLeastRecentlyUsedOut() throws {
        let weights = try Batch.tinyGatedModel()
        let c = weights.config
        let length = 50
        let entryBytes = c.numDecoderLayers * length * 2 * c.innerDim * 4 + 64
        let cache = ContextCache(capacityBytes: 2 * entryBytes + entryBytes / 2)     // room for two
        let scorer = T5Scorer(weights: weights, threads: 1)
        scorer.contextCache = cache
        let contexts = (0..<3).map { Batch.tokens(length - 1, seed: 200 + UInt64($0), vocab: 300) + [1] }
        for instruction in [contexts[0], contexts[1], contexts[0], contexts[2]] {
            _ = try scores(scorer, [ScoringInput(instruction: instruction, candidates: [[4]])])
        }
        let s = cache.current
        XCTAssertEqual(s.entries, 2)
        XCTAssertEqual(s.evictions, 1)
        XCTAssertLessThanOrEqual(s.bytes, s.capacityBytes)
        _ = try scores(scorer, [ScoringInput(instruction: contexts[0], candidates: [[4]])])
        XCTAssertEqual(cache.current.hits, 2, "context 0 was used last but one, so context 1 went out")
        // An entry larger than the whole budget is not kept.
        let tiny = ContextCache(capacityBytes: 16)
        scorer.contextCache = tiny
        _ = try scores(scorer, [ScoringInput(instruction: contexts[0], candidates: [[4]])])
        XCTAssertEqual(tiny.current.entries, 0)
    }
}
