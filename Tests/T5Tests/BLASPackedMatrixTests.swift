import Foundation
import Randomness
import XCTest
@_spi(Benchmarks) @testable import T5

/// F32 weights packed at load for OpenBLAS's own kernel (`BLASPackedMatrix`): products equal `cblas_sgemm`'s
/// within float rounding on every edge of the layout, rows read back exactly, from several threads at once, and a
/// checkpoint scores the same packed or row-major.
final class BLASPackedMatrixTests: XCTestCase {
    /// Debian's OpenBLAS (0.3, DYNAMIC_ARCH) exports every core type's routines: there, packing must be in use, so
    /// a change that breaks finding them fails here instead of quietly falling back to cblas_sgemm.
    func testPackingIsUsedWithADynamicArchOpenBLAS() throws {
        let library = BLASIdentity.current()
        try XCTSkipUnless(library.dynamicArch && library.version.hasPrefix("0.3."),
                          "not a DYNAMIC_ARCH OpenBLAS 0.3: \(library.config)")
        XCTAssertTrue(WeightPacking.isUsed, WeightPacking.description)
        XCTAssertTrue(WeightPacking.description.contains(library.coreName), WeightPacking.description)
    }

    /// Output ranges that start and end inside a block of 16 rows, inside the same block, at the matrix's short
    /// last block; several column blocks with a narrow last one; one row of x, many, and more than one chunk of
    /// them; accumulating and not.
    func testProductsEqualCBLASOnEveryEdgeOfTheLayout() throws {
        try XCTSkipUnless(WeightPacking.isUsed, WeightPacking.description)
        var rng = SplitMix64(seed: 31)
        // (W rows, columns, x rows, outputs)
        let cases: [(Int, Int, Int, Range<Int>)] = [
            (1, 1, 1, 0..<1), (16, 256, 4, 0..<16), (17, 257, 3, 0..<17), (100, 600, 7, 0..<100),
            (100, 600, 7, 3..<97), (100, 600, 7, 35..<40), (100, 600, 7, 32..<48), (100, 600, 7, 96..<100),
            (100, 600, 7, 90..<100), (45, 30, 50, 1..<2), (300, 512, 129, 16..<288), (33, 1030, 2, 10..<33),
            (70, 300, 1100, 5..<66),   // x in three chunks of rows, the last one short
            (1100, 40, 600, 3..<1090), // and bf16 W widened in groups of 512 rows, the last one short
        ]
        for (n, k, m, outputs) in cases {
            for element in [TensorDType.f32, .bf16] {
                let w = Self.values(n * k, element, &rng), x = (0..<(m * k)).map { _ in rng.uniform() * 2 - 1 }
                let matrix = w.withUnsafeBufferPointer {
                    BLASPackedMatrix(packing: $0.baseAddress!, rows: n, columns: k, element: element)
                }
                for accumulate in [false, true] {
                    let start = (0..<(m * outputs.count)).map { _ in rng.uniform() }
                    let (packed, reference) = matrix.productBesideCBLAS(w, x: x, rows: m, outputs: outputs,
                                                                        accumulate: accumulate, start: start)
                    let worst = zip(packed, reference).map { abs($0 - $1) }.max() ?? 0
                    // Sums of up to 1,030 products of values in [-1, 1]: a few float32 roundings are ~1e-5; a wrong
                    // block or column is off by about 10.
                    XCTAssertLessThanOrEqual(worst, 1e-4, "\(element) n \(n) k \(k) m \(m) outputs \(outputs) accumulate \(accumulate)")
                }
            }
        }
    }

    /// W [rows, columns] as a row-major matrix of `element` (.bf16: `values` must be bfloat16s).
    static func matrix(_ values: [Float], rows: Int, columns: Int, element: TensorDType) -> WeightMatrix {
        guard element == .bf16 else { return Int8KernelTests.matrix(values, rows: rows, columns: columns) }
        let m = WeightMatrix(rows: rows, columns: columns, element: .bf16)
        let halves = m.bytes.bindMemory(to: UInt16.self, capacity: values.count)
        for (i, value) in values.enumerated() { halves[i] = UInt16(value.bitPattern >> 16) }
        return m
    }

    /// `count` values in [-1, 1]; for bf16 each exactly a bfloat16 (the low half cleared), as a BF16 checkpoint's are.
    static func values(_ count: Int, _ element: TensorDType, _ rng: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in
            let value = rng.uniform() * 2 - 1
            return element == .bf16 ? Float(bitPattern: value.bitPattern & 0xFFFF_0000) : value
        }
    }

    func testRowsReadBackExactly() throws {
        try XCTSkipUnless(WeightPacking.isUsed, WeightPacking.description)
        var rng = SplitMix64(seed: 32)
        for (n, k) in [(1, 1), (40, 7), (100, 600), (33, 1030)] {
            for element in [TensorDType.f32, .bf16] {
                let w = Self.values(n * k, element, &rng)
                let matrix = WeightMatrix(packingForBLAS: Self.matrix(w, rows: n, columns: k, element: element))
                XCTAssertNil(matrix.float32)
                XCTAssertEqual(matrix.element, element)
                for range in [0..<n, (n / 3)..<(n / 3 + 1), (n - 1)..<n] {
                    var back = [Float](repeating: .nan, count: range.count * k)
                    matrix.widen(rows: range, into: &back)
                    XCTAssertEqual(back, Array(w[(range.lowerBound * k)..<(range.upperBound * k)]),
                                   "\(element) n \(n) k \(k) rows \(range)")
                }
            }
        }
    }

    /// Each thread packs its x into scratch of its own: many threads multiplying at once get what one alone gets.
    func testConcurrentProductsAgreeWithOneAlone() throws {
        try XCTSkipUnless(WeightPacking.isUsed, WeightPacking.description)
        var rng = SplitMix64(seed: 33)
        let n = 200, k = 700
        let w = (0..<(n * k)).map { _ in rng.uniform() * 2 - 1 }
        let matrix = w.withUnsafeBufferPointer { BLASPackedMatrix(packing: $0.baseAddress!, rows: n, columns: k) }
        let inputs = (0..<8).map { i in (0..<((i + 1) * 9 * k)).map { _ in rng.uniform() * 2 - 1 } }
        let alone = inputs.map { Self.product(matrix, $0) }
        let together = Collected(count: 64)
        DispatchQueue.concurrentPerform(iterations: 64) { i in together.set(i, Self.product(matrix, inputs[i % inputs.count])) }
        for i in 0..<64 { XCTAssertEqual(together.values[i], alone[i % inputs.count], "call \(i)") }
    }

    static func product(_ matrix: BLASPackedMatrix, _ x: [Float]) -> [Float] {
        let m = x.count / matrix.columns, n = matrix.rows
        var y = [Float](repeating: 0, count: m * n)
        x.withUnsafeBufferPointer {
            matrix.product(values: UnsafeRawPointer($0.baseAddress!), scales: [], rows: m, outputs: 0..<n, into: &y,
                           ldy: n, accumulate: false)
        }
        return y
    }

    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [[Float]]
        init(count: Int) { values = Array(repeating: [], count: count) }
        func set(_ i: Int, _ value: [Float]) { lock.lock(); values[i] = value; lock.unlock() }
    }

    /// A checkpoint loads its linear matrices packed (the embedding and the cross K|V stack, read by rows too, stay
    /// row-major) and scores as the same weights row-major through cblas_sgemm: F32, and BF16 kept 16-bit.
    func testACheckpointScoresTheSamePackedOrRowMajor() throws {
        try checkPackedOrRowMajor("t5-v1_1-tiny", element: .f32)
    }

    func testABF16CheckpointKeptSixteenBitScoresTheSamePackedOrRowMajor() throws {
        try checkPackedOrRowMajor("t5-v1_1-tiny-bf16", element: .bf16)
    }

    func checkPackedOrRowMajor(_ name: String, element: TensorDType) throws {
        try XCTSkipUnless(WeightPacking.isUsed, WeightPacking.description)
        let directory = try Fixtures.model(name)
        let packed = try T5Weights(directory: directory), rowMajor = try T5Weights(directory: directory, packForBLAS: false)
        XCTAssertEqual((packed.encoderLayers[0].qkv.packed as? BLASPackedMatrix)?.element, element)
        XCTAssertEqual(packed.encoderLayers[0].qkv.element, element)
        XCTAssertTrue(packed.decoderLayers[1].ffnOut.packed is BLASPackedMatrix)
        XCTAssertTrue(packed.lmHead.packed is BLASPackedMatrix)
        XCTAssertNil(packed.embedding.packed)
        XCTAssertNil(packed.crossKV.packed)
        XCTAssertNil(rowMajor.encoderLayers[0].qkv.packed)
        XCTAssertEqual(packed.matrixBytes, rowMajor.matrixBytes)
        let golden = try Fixtures.golden(name)
        for sharing in [true, false] {
            let a = T5Scorer(weights: packed, threads: 2), b = T5Scorer(weights: rowMajor, threads: 2)
            a.options.sharesPrefixes = sharing
            b.options.sharesPrefixes = sharing
            for (name, testCase) in golden.cases {
                let tokens = testCase.candidates.map(\.tokens)
                let x = try a.run(instruction: testCase.instruction, candidates: tokens)
                let y = try b.run(instruction: testCase.instruction, candidates: tokens)
                for (p, q) in zip(x.tokenLogProbabilities.joined(), y.tokenLogProbabilities.joined()) {
                    XCTAssertEqual(p, q, accuracy: 1e-5, "\(name) sharing \(sharing)")
                }
            }
        }
    }
}
