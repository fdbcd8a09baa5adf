import Foundation
import XCTest
@testable import T5

/// BF16 and F16 checkpoints keep their matrices 16-bit in memory and widen
/// them slice by slice inside each product; the numbers must be the ones the
/// old widen-at-load path (`weights_dtype = f32`) gives.
final class SixteenBitWeightTests: XCTestCase {
    func testWideningReproducesEveryBF16AndF16BitPattern() {
        let patterns = (0...UInt16.max).map { $0 }   // [65536]
        let out = UnsafeMutablePointer<Float>.allocate(capacity: patterns.count)
        defer { out.deallocate() }
        patterns.withUnsafeBytes { raw in
            // From byte offset 2 (unaligned) and an odd count: the SIMD loop and its scalar tail.
            let count = patterns.count - 1
            TensorDType.bf16.widen(raw.baseAddress! + 2, count: count, into: out)
            for i in 0..<count {
                XCTAssertEqual(out[i].bitPattern, UInt32(patterns[i + 1]) << 16, "BF16 pattern \(patterns[i + 1])")
            }
            TensorDType.f16.widen(raw.baseAddress! + 2, count: count, into: out)
            for i in 0..<count {
                let expected = Float(Float16(bitPattern: patterns[i + 1]))
                if expected.isNaN { XCTAssertTrue(out[i].isNaN, "F16 pattern \(patterns[i + 1])") } else {
                    XCTAssertEqual(out[i].bitPattern, expected.bitPattern, "F16 pattern \(patterns[i + 1])")
                }
            }
        }
    }

    /// A product over several slices (rows split over two threads, a 256-row
    /// slice and a short last one each) equals the product with the same values in F32.
    func testSlicedProductOfA16BitMatrixEqualsTheF32Product() {
        let n = 700, k = 1100, m = 10   // W [n, k]: 256-row slices at k=1100; x [m, k]
        XCTAssertEqual(WeightMatrix.sliceRows(columns: k), 256)
        var rng = SystemRandomNumberGenerator()
        for element in [TensorDType.bf16, .f16] {
            let kept = WeightMatrix(rows: n, columns: k, element: element)
            let halves = kept.bytes.bindMemory(to: UInt16.self, capacity: n * k)
            for i in 0..<(n * k) {
                let value = Float.random(in: -1...1, using: &rng)
                halves[i] = element == .bf16 ? UInt16(value.bitPattern >> 16) : Float16(value).bitPattern
            }
            let widened = WeightMatrix(rows: n, columns: k, element: .f32)
            kept.widen(rows: 0..<n, into: widened.bytes.assumingMemoryBound(to: Float.self))
            let x = Tensor(shape: [m, k], zeroed: false)
            for i in 0..<x.count { x[i] = Float.random(in: -1...1, using: &rng) }
            let scratch = Tensor(shape: [2, WeightMatrix.scratchFloats(maxColumns: k)], zeroed: false)
            let fromKept = Tensor(shape: [m, n]), fromWidened = Tensor(shape: [m, n])   // [m, n]
            GEMM.linear(x.data, rows: m, weight: kept, into: fromKept.data, threads: 2, scratch: scratch)
            GEMM.linear(x.data, rows: m, weight: widened, into: fromWidened.data, threads: 2, scratch: scratch)
            var worst: Float = 0
            for i in 0..<(m * n) { worst = max(worst, abs(fromKept[i] - fromWidened[i])) }
            // sgemm's kernels sum differently for different n, so the two round differently: 1e-4 is
            // under 1e-6 of Σ|x·w| (k × 1/4 ≈ 275), a few float32 roundings; a wrong slice is off by ~10.
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(element)")
        }
    }

    func testBF16CheckpointScoresTheSameKeptOrWidenedAtLoad() throws {
        try checkKeptMatchesWidened(try Fixtures.model("t5-v1_1-tiny-bf16"), element: .bf16, golden: "t5-v1_1-tiny-bf16")
    }

    func testF16CheckpointScoresTheSameKeptOrWidenedAtLoad() throws {
        let directory = try TemporaryDirectory()
        let source = try Fixtures.model("t5-v1_1-tiny")
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"),
                                         to: directory.url.appendingPathComponent("config.json"))
        let tensors = try SafeTensorsWriter.readAll(source.appendingPathComponent("model.safetensors")).map {
            SafeTensorsWriter.RawTensor(name: $0.name, dtype: "F16", shape: $0.shape, bytes: Self.f16Bytes(ofF32: $0.bytes))
        }
        try SafeTensorsWriter.encode(tensors).write(to: directory.url.appendingPathComponent("model.safetensors"))
        try checkKeptMatchesWidened(directory.url, element: .f16, golden: "t5-v1_1-tiny")
    }

    func testF32CheckpointStaysF32WhateverTheSetting() throws {
        let weights = try T5Weights(directory: try Fixtures.model("t5-v1_1-tiny"), dtype: .auto)
        XCTAssertEqual(weights.embedding.element, .f32)
        XCTAssertEqual(weights.encoderLayers[0].qkv.element, .f32)
    }

    func testShort16BitTensorIsALoadError() throws {
        let directory = try TemporaryDirectory()
        let source = try Fixtures.model("t5-v1_1-tiny-bf16")
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"),
                                         to: directory.url.appendingPathComponent("config.json"))
        var tensors = try SafeTensorsWriter.readAll(source.appendingPathComponent("model.safetensors"))
        let name = "decoder.block.1.layer.0.SelfAttention.k.weight"
        let i = try XCTUnwrap(tensors.firstIndex { $0.name == name })
        XCTAssertEqual(tensors[i].dtype, "BF16")
        tensors[i].bytes = tensors[i].bytes.dropLast(2)   // one element short of its shape
        try SafeTensorsWriter.encode(tensors).write(to: directory.url.appendingPathComponent("model.safetensors"))
        for dtype in WeightsDType.allCases {
            XCTAssertThrowsError(try T5Weights(directory: directory.url, dtype: dtype)) { error in
                let message = "\(error)"
                XCTAssertTrue(error is T5Error, "untyped error \(error)")
                XCTAssertTrue(message.contains(name) && message.contains("do not hold shape") && message.contains("BF16"),
                              message)
            }
        }
    }

    /// Loads `directory` both ways and compares every score of the golden cases.
    func checkKeptMatchesWidened(_ directory: URL, element: TensorDType, golden name: String,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let kept = try T5Weights(directory: directory, dtype: .auto)
        let widened = try T5Weights(directory: directory, dtype: .f32)
        XCTAssertEqual(kept.embedding.element, element, file: file, line: line)
        XCTAssertEqual(kept.decoderLayers[0].ffnIn.element, element, "fused wi_0|wi_1", file: file, line: line)
        XCTAssertEqual(kept.crossKV.element, element, "fused cross K|V", file: file, line: line)
        XCTAssertEqual(widened.embedding.element, .f32, file: file, line: line)
        XCTAssertEqual(kept.matrixBytes * 2, widened.matrixBytes, file: file, line: line)
        let keptScorer = T5Scorer(weights: kept, threads: 2), widenedScorer = T5Scorer(weights: widened, threads: 2)
        let golden = try Fixtures.golden(name)
        var compared = 0
        for (_, testCase) in golden.cases.sorted(by: { $0.key < $1.key }) {
            let candidates = testCase.candidates.map(\.tokens)
            let a = try keptScorer.run(instruction: testCase.instruction, candidates: candidates)
            let b = try widenedScorer.run(instruction: testCase.instruction, candidates: candidates)
            for (x, y) in zip(a.tokenLogProbabilities.joined(), b.tokenLogProbabilities.joined()) {
                XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), file: file, line: line)
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 0, file: file, line: line)
    }

    static func f16Bytes(ofF32 bytes: Data) -> Data {
        let floats = bytes.withUnsafeBytes { raw in (0..<(bytes.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
        return floats.map { Float16($0).bitPattern }.withUnsafeBytes { Data($0) }
    }
}
