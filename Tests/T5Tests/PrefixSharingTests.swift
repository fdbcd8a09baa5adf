import Foundation
import XCTest
@testable import T5

/// The prefix tree (`DecoderTree`) and shared scoring against the unshared
/// packed batch: same scores within float rounding, worst difference reported.
final class PrefixSharingTests: XCTestCase {
    /// Shared prefixes of every length 0…6 with a 6-token title, a candidate
    /// that is a prefix of another (before and after it), a duplicate, an
    /// empty title, and a title of 70 tokens (more than one 64-query
    /// attention block) sharing 66 tokens with another.
    static var candidates: [[Int32]] {
        let base: [Int32] = [101, 202, 303, 404, 505, 606]
        var list: [[Int32]] = [[7, 8, 9]]                               // shares only position 0
        list.append(Array(base[0..<3]))                                  // prefix of the next one, comes first
        list.append(base)
        for k in 0...6 { list.append(Array(base[0..<k]) + [Int32(900 + k), Int32(950 + k)]) }  // diverges after k tokens
        for k in 1...5 { list.append(Array(base[0..<k])) }               // prefixes of an earlier candidate
        list.append(base)                                                // duplicate
        list.append([])                                                  // empty title: decoder_start -> </s> only
        let long = (0..<70).map { Int32(1000 + 7 * $0) }
        list.append(long)
        list.append(Array(long[0..<66]) + [31, 32, 33, 34])
        return list
    }

    func testTreeSharesExactlyTheCommonPrefixes() {
        let candidates = Self.candidates
        let shared = DecoderTree(candidates: candidates, start: 0, eos: 1, sharing: true)
        let unshared = DecoderTree(candidates: candidates, start: 0, eos: 1, sharing: false)
        XCTAssertEqual(unshared.rows, candidates.reduce(0) { $0 + $1.count + 1 })
        XCTAssertEqual(unshared.positions, shared.positions)
        // Expected nodes: distinct prefixes (including the empty one, the root).
        var prefixes = Set<[Int32]>()
        for c in candidates { for k in 0...c.count { prefixes.insert(Array(c[0..<k])) } }
        XCTAssertEqual(shared.rows, prefixes.count)
        // Two positions share a node exactly when their prefixes are equal, and a node's depth is its position.
        var nodeOfPrefix: [[Int32]: Int] = [:]
        for (b, c) in candidates.enumerated() {
            for p in 0...c.count {
                let node = shared.nodeOfPosition[shared.offsets[b] + p]
                XCTAssertEqual(shared.depths[node], p)
                XCTAssertEqual(shared.inputs[node], p == 0 ? 0 : c[p - 1])
                XCTAssertEqual(shared.targets[shared.offsets[b] + p], p < c.count ? c[p] : 1)
                if let known = nodeOfPrefix[Array(c[0..<p])] { XCTAssertEqual(known, node) } else { nodeOfPrefix[Array(c[0..<p])] = node }
            }
            // Owned nodes are consecutive rows at the end of the path.
            let owned = shared.lengths[b] - shared.ownedDepth[b]
            for i in 0..<owned {
                XCTAssertEqual(shared.nodeOfPosition[shared.offsets[b] + shared.ownedDepth[b] + i], shared.ownedStart[b] + i)
            }
        }
        XCTAssertEqual(Set(nodeOfPrefix.values).count, shared.rows)
        for b in 0..<candidates.count { XCTAssertTrue(unshared.pathIsContiguous(b)) }
        // CSR of positions by node covers every position once.
        XCTAssertEqual(shared.positionsByNode.sorted(), Array(0..<shared.positions))
        for node in 0..<shared.rows {
            for i in shared.positionStart[node]..<shared.positionStart[node + 1] {
                XCTAssertEqual(shared.nodeOfPosition[shared.positionsByNode[i]], node)
            }
        }
        let sharing = DecoderSharing(candidates: candidates)
        XCTAssertEqual(sharing.sharedRows, shared.rows)
        XCTAssertEqual(sharing.unsharedRows, unshared.rows)
        // Self-attention pairs (what the benchmarks' FLOP count reads): every query row a candidate
        // computes against its whole path; unshared, each candidate's path is all its own.
        XCTAssertEqual(sharing.unsharedAttentionPairs, unshared.lengths.reduce(0) { $0 + $1 * $1 })
        let ownedPairs = (0..<candidates.count).reduce(0) { $0 + (shared.lengths[$1] - shared.ownedDepth[$1]) * shared.lengths[$1] }
        XCTAssertEqual(sharing.sharedAttentionPairs, ownedPairs)
        XCTAssertLessThan(sharing.sharedAttentionPairs, sharing.unsharedAttentionPairs, "the fixture's candidates share prefixes")
        print("prefix tree: \(shared.rows) rows instead of \(unshared.rows) (\(String(format: "%.1f", 100 * sharing.savedFraction))% saved)")
    }

    func testSharedAndUnsharedScoringAgreeT5v11() throws { try checkAgreement("t5-v1_1-tiny") }
    func testSharedAndUnsharedScoringAgreeT5v10() throws { try checkAgreement("t5-v1_0-tiny") }

    func checkAgreement(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let weights = try T5Weights(directory: try Fixtures.model(name))
        let golden = try Fixtures.golden(name)
        let candidates = Self.candidates
        let sharedScorer = T5Scorer(weights: weights, threads: 2)
        let unsharedScorer = T5Scorer(weights: weights, threads: 2)
        unsharedScorer.options.sharesPrefixes = false
        var tokens = WorstDifference(), scores = WorstDifference(), alone = WorstDifference()
        for (caseName, testCase) in golden.cases.sorted(by: { $0.key < $1.key }) {
            let shared = try sharedScorer.run(instruction: testCase.instruction, candidates: candidates)
            let unshared = try unsharedScorer.run(instruction: testCase.instruction, candidates: candidates)
            XCTAssertLessThan(shared.decoderRows, unshared.decoderRows, file: file, line: line)
            XCTAssertEqual(unshared.decoderRows, shared.candidateRows, file: file, line: line)
            for b in candidates.indices {
                XCTAssertEqual(shared.tokenLogProbabilities[b].count, candidates[b].count + 1, file: file, line: line)
                for (p, (a, e)) in zip(shared.tokenLogProbabilities[b], unshared.tokenLogProbabilities[b]).enumerated() {
                    tokens.compare(a, e, "\(caseName) candidate \(b) token \(p)")
                }
                // Scores sum up to 71 float log-probs of magnitude ~10: compare relative to the score.
                scores.compare(shared.sums[b] / max(1, abs(unshared.sums[b])), unshared.sums[b] / max(1, abs(unshared.sums[b])),
                               "\(caseName) candidate \(b) (score \(unshared.sums[b]))")
            }
            // Each candidate alone (nothing to share but itself) agrees too.
            for b in [0, 1, 2, 5, 11, 14, 15, 16, 17, 18] {  // first, prefix-first, full, divergent, prefix, duplicate, empty, long pair
                let single = try sharedScorer.score(instruction: testCase.instruction, candidates: [candidates[b]])
                alone.compare(single[0] / max(1, abs(shared.sums[b])), shared.sums[b] / max(1, abs(shared.sums[b])),
                              "\(caseName) candidate \(b) alone (score \(shared.sums[b]))")
            }
        }
        print("[\(name)] shared vs unshared worst |Δ| token log-prob \(tokens.value) at \(tokens.location); score (relative to max(1, |score|)) \(scores.value) at \(scores.location); alone (relative) \(alone.value) at \(alone.location)")
        XCTAssertLessThanOrEqual(tokens.value, 1e-4, tokens.location, file: file, line: line)
        XCTAssertLessThanOrEqual(scores.value, 1e-6, scores.location, file: file, line: line)
        XCTAssertLessThanOrEqual(alone.value, 1e-6, alone.location, file: file, line: line)
    }

    func testFullLogitsAgreeWithAndWithoutSharing() throws {
        let weights = try T5Weights(directory: try Fixtures.model("t5-v1_1-tiny"))
        let testCase = try XCTUnwrap(Fixtures.golden("t5-v1_1-tiny").cases["short"])
        let candidates = Array(Self.candidates[0..<10])
        let shared = T5Scorer(weights: weights, threads: 2), unshared = T5Scorer(weights: weights, threads: 2)
        unshared.options.sharesPrefixes = false
        let a = try shared.logits(instruction: testCase.instruction, candidates: candidates)
        let b = try unshared.logits(instruction: testCase.instruction, candidates: candidates)
        var worst = WorstDifference()
        for (i, (x, y)) in zip(a, b).enumerated() {
            XCTAssertEqual(x.count, y.count)
            for (j, (u, v)) in zip(x, y).enumerated() where j % 97 == 0 { worst.compare(u, v, "candidate \(i) index \(j)") }
        }
        print("full logits shared vs unshared worst |Δ| \(worst.value) at \(worst.location)")
        XCTAssertLessThanOrEqual(worst.value, 1e-4, worst.location)
    }
}

/// The fused transcendental kernels against double-precision references.
final class VectorMathTests: XCTestCase {
    func testOnlineLogSumExpMatchesDoubleReference() {
        var rng = SystemRandomNumberGenerator()
        var worst = WorstDifference()
        for count in [1, 5, 15, 16, 17, 255, 256, 257, 512, 1000, 4097, 32128] {
            for pattern in 0..<4 {
                var x = (0..<count).map { _ in Float.random(in: -20...20, using: &rng) }
                switch pattern {
                case 1: x = x.enumerated().map { Float($0.offset) * 0.01 + $0.element * 0.1 }   // maximum keeps growing
                case 2: x = x.map { $0 - 200 }                                                 // far from zero
                case 3: for i in stride(from: 1, to: count, by: 3) { x[i] = -.infinity }       // masked entries
                default: break
                }
                let m = Double(x.max() ?? 0)
                let reference = m + Foundation.log(x.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
                let value = x.withUnsafeBufferPointer { VectorMath.logSumExp($0.baseAddress!, count: count) }
                // relative to max(1, |lse|): |lse| reaches ~330 here, where one float ulp is 3e-5
                let scale = Float(max(1, abs(reference)))
                worst.compare(value / scale, Float(reference) / scale, "count \(count) pattern \(pattern)")
                // Split into uneven pieces: the running pair must give the same answer.
                var maximum = -Float.infinity, sum: Float = 0
                x.withUnsafeBufferPointer { p in
                    var start = 0
                    for piece in [3, 100, 17, 600] where start < count {
                        let n = min(piece, count - start)
                        VectorMath.accumulateLogSumExp(p.baseAddress! + start, count: n, max: &maximum, sum: &sum)
                        start += n
                    }
                    if start < count { VectorMath.accumulateLogSumExp(p.baseAddress! + start, count: count - start, max: &maximum, sum: &sum) }
                }
                worst.compare((maximum + Foundation.log(sum)) / scale, Float(reference) / scale, "count \(count) pattern \(pattern) in pieces")
            }
        }
        print("log-sum-exp worst |Δ| / max(1, |lse|) \(worst.value) at \(worst.location)")
        XCTAssertLessThanOrEqual(worst.value, 4e-7, worst.location)
    }

    func testExponentiateRowsIsASoftmaxWithDeferredNormalisation() {
        var rng = SystemRandomNumberGenerator()
        var worst = WorstDifference()
        for columns in [1, 7, 16, 33, 384] {
            let rows = 5
            let x = (0..<(rows * columns)).map { _ in Float.random(in: -30...30, using: &rng) }
            // bias over relative positions: row r reads bias[origin - r + k]
            let origin = rows - 1
            var bias = (0..<(rows + columns)).map { _ in Float.random(in: -3...3, using: &rng) }
            bias[origin + 1] = -.infinity   // one masked relative position
            var scores = x
            var sums = [Float](repeating: 0, count: rows)
            scores.withUnsafeMutableBufferPointer { s in
                bias.withUnsafeBufferPointer { b in
                    VectorMath.exponentiateRows(s.baseAddress!, rows: rows, columns: columns,
                                                bias: b.baseAddress! + origin, inverseSums: &sums)
                }
            }
            for r in 0..<rows {
                let biased = (0..<columns).map { Double(x[r * columns + $0]) + Double(bias[origin - r + $0]) }
                let m = biased.max()!
                let e = biased.map { Foundation.exp($0 - m) }
                let total = e.reduce(0, +)
                for k in 0..<columns {
                    worst.compare(scores[r * columns + k] * sums[r], Float(e[k] / total), "columns \(columns) row \(r) key \(k)")
                }
            }
        }
        print("softmax worst |Δ| \(worst.value) at \(worst.location)")
        XCTAssertLessThanOrEqual(worst.value, 1e-6, worst.location)
    }
}
