import CQuantized
import Randomness
import XCTest
@testable import T5

/// The int8 kernels (`CQuantized`) against the scalar reference: exact integer sums on every kernel this
/// CPU runs, the packed layout the header documents, the vectorised activation quantizer byte for byte,
/// and the F32 product within the quantization error.
final class Int8KernelTests: XCTestCase {
    /// Shapes with every remainder: K not a multiple of 4, N not a multiple of 16 or 32, fewer and more
    /// rows than a block (8), outputs starting off a panel boundary.
    static let shapes: [(m: Int, n: Int, k: Int)] = [(1, 1, 1), (3, 17, 5), (8, 32, 4), (9, 33, 7), (13, 100, 37),
                                                     (37, 250, 77), (20, 48, 512), (130, 70, 130)]

    func testEveryKernelGivesTheReferenceSumsExactly() {
        XCTAssertTrue(Int8Kernel.available.contains(.scalar))
        print("int8 kernels on this CPU: \(Int8Kernel.available.map(\.rawValue)), fastest \(Int8Kernel.fastest.rawValue)")
        var rng = SplitMix64(seed: 11)
        for (m, n, k) in Self.shapes {
            let w = (0..<(n * k)).map { _ in rng.uniform() * 2 - 1 }
            let x = (0..<(m * k)).map { _ in (rng.uniform() * 2 - 1) * 5 }
            let q = w.withUnsafeBufferPointer { QuantizedMatrix(quantizing: $0.baseAddress!, rows: n, columns: k, kernel: .scalar) }
            let kp = Int(irq8_padded_k(Int32(k))), k4 = kp / 4
            // The reference: the int8 values read back through the layout CQuantized.h documents.
            func weight(_ row: Int, _ column: Int) -> Int32 {
                Int32(q.packed[((row / 16) * k4 + column / 4) * 64 + (row % 16) * 4 + column % 4])
            }
            for kernel in Int8Kernel.available {
                var values = [UInt8](repeating: 0, count: m * kp), scales = [Float](repeating: 0, count: m)
                irq8_quantize_activations(kernel.code, x, Int32(m), Int32(k), Int32(k), &values, &scales)
                let offset: Int32 = kernel == .avx512VNNI ? 128 : 0
                var expected = [Int32](repeating: 0, count: m * n)
                for r in 0..<m {
                    for j in 0..<n {
                        var sum: Int32 = 0
                        for c in 0..<k { sum += (Int32(values[r * kp + c]) - offset).signExtendedByte * weight(j, c) }
                        expected[r * n + j] = sum
                    }
                }
                var got = [Int32](repeating: 0, count: m * n)
                irq8_gemm_int32(kernel.code, Int32(m), Int32(k), values, q.packed, q.sums, 0, Int32(n), &got, Int32(n))
                XCTAssertEqual(got, expected, "\(kernel) m \(m) n \(n) k \(k)")
                // Outputs from an unaligned first column: the same sums, shifted.
                if n > 6 {
                    let n0 = 5, n1 = n - 1
                    var part = [Int32](repeating: 0, count: m * (n1 - n0))
                    irq8_gemm_int32(kernel.code, Int32(m), Int32(k), values, q.packed, q.sums, Int32(n0), Int32(n1), &part,
                                    Int32(n1 - n0))
                    for r in 0..<m { XCTAssertEqual(Array(part[(r * (n1 - n0))..<((r + 1) * (n1 - n0))]),
                                                    Array(expected[(r * n + n0)..<(r * n + n1)]), "\(kernel) from column \(n0)") }
                }
            }
        }
    }

    func testEveryKernelGivesTheSameFloatProductBitForBit() {
        var rng = SplitMix64(seed: 12)
        let m = 45, n = 300, k = 190
        let w = (0..<(n * k)).map { _ in rng.uniform() * 2 - 1 }
        let x = (0..<(m * k)).map { _ in rng.uniform() * 2 - 1 }
        var products: [Int8Kernel: [Float]] = [:]
        for kernel in Int8Kernel.available {
            let matrix = Self.matrix(w, rows: n, columns: k)
            let q = WeightMatrix(quantizing: matrix, kernel: kernel)
            var y = [Float](repeating: 0, count: m * n)
            let scratch = Tensor(shape: [2, WeightMatrix.scratchFloats(maxColumns: k)], zeroed: false)
            x.withUnsafeBufferPointer { GEMM.linear($0.baseAddress!, rows: m, weight: q, into: &y, threads: 2, scratch: scratch) }
            products[kernel] = y
        }
        for kernel in Int8Kernel.available {
            XCTAssertEqual(products[kernel]!.map(\.bitPattern), products[.scalar]!.map(\.bitPattern), "\(kernel)")
        }
    }

    func testVectorQuantizerEqualsTheReferenceByteForByte() {
        var rng = SplitMix64(seed: 13)
        for k in [1, 7, 8, 9, 64, 513] {
            let m = 5
            var x = (0..<(m * k)).map { _ in (rng.uniform() * 2 - 1) * 3 }
            for c in 0..<k { x[k + c] = 0 }                 // a zero row: scale 0, every value 0
            x[0] = .nan                                     // skipped by the maximum, clamped to -127
            if k > 2 { x[2 * k + 1] = 1e30 }                // one huge value: the rest of its row rounds to 0
            for kernel in Int8Kernel.allCases {
                let kp = Int(irq8_padded_k(Int32(k)))
                var a = [UInt8](repeating: 1, count: m * kp), b = [UInt8](repeating: 2, count: m * kp)
                var sa = [Float](repeating: 0, count: m), sb = [Float](repeating: 1, count: m)
                irq8_quantize_activations(kernel.code, x, Int32(m), Int32(k), Int32(k), &a, &sa)
                irq8_quantize_activations_reference(kernel.code, x, Int32(m), Int32(k), Int32(k), &b, &sb)
                XCTAssertEqual(a, b, "k \(k) \(kernel)")
                XCTAssertEqual(sa.map(\.bitPattern), sb.map(\.bitPattern), "k \(k) \(kernel)")
            }
        }
    }

    /// y = x W^T in int8 against F32. Each term's error is at most half a step of x's scale times |w| plus
    /// half a step of W's times |x| (and their product): under 1/127 of Σ|x·w| per output in the worst case,
    /// far less on average; a wrong scale, panel or offset is off by the whole sum.
    func testProductIsWithinTheQuantizationErrorOfF32() {
        var rng = SplitMix64(seed: 14)
        let m = 30, n = 200, k = 256
        let w = (0..<(n * k)).map { _ in rng.uniform() * 2 - 1 }
        let x = (0..<(m * k)).map { _ in rng.uniform() * 2 - 1 }
        let f32 = Self.matrix(w, rows: n, columns: k)
        let q = WeightMatrix(quantizing: f32, kernel: .fastest)
        let scratch = Tensor(shape: [1, WeightMatrix.scratchFloats(maxColumns: k)], zeroed: false)
        var exact = [Float](repeating: 0, count: m * n), approximate = exact
        x.withUnsafeBufferPointer {
            GEMM.linear($0.baseAddress!, rows: m, weight: f32, into: &exact, threads: 1, scratch: scratch)
            GEMM.linear($0.baseAddress!, rows: m, weight: q, into: &approximate, threads: 1, scratch: scratch)
        }
        var worst: Float = 0
        for r in 0..<m {
            for j in 0..<n {
                var magnitude: Float = 0
                for c in 0..<k { magnitude += abs(x[r * k + c] * w[j * k + c]) }
                worst = max(worst, abs(exact[r * n + j] - approximate[r * n + j]) / magnitude)
            }
        }
        print("int8 product vs F32: worst |Δ| / Σ|x·w| \(worst)")
        XCTAssertLessThan(worst, 0.01)
        XCTAssertGreaterThan(worst, 0)   // it did run in int8
        // Dequantized rows are within half a step of the original.
        var rows = [Float](repeating: 0, count: 3 * k)
        q.widen(rows: 7..<10, into: &rows)
        for i in 0..<(3 * k) {
            let step = q.int8!.scales[7 + i / k]
            XCTAssertLessThanOrEqual(abs(rows[i] - w[7 * k + i]), step / 2 * 1.0001)
        }
    }

    func testInt8MatricesHoldUnderAThirdOfF32Bytes() throws {
        let config = try T5Config(dModel: 256, dKV: 32, dFF: 512, numLayers: 2, numHeads: 8, vocabSize: 4000,
                                  feedForwardProj: "gated-gelu", tieWordEmbeddings: false)
        let f32 = T5Weights(randomWithConfig: config)
        let int8 = f32.quantized(kernel: .fastest)
        let ratio = Double(int8.matrixBytes) / Double(f32.matrixBytes)
        print("int8 / F32 matrix bytes at d_model 256: \(ratio)")
        XCTAssertLessThanOrEqual(ratio, 0.3)
        XCTAssertEqual(int8.int8Kernel, .fastest)
        XCTAssertNil(f32.int8Kernel)
    }

    static func matrix(_ values: [Float], rows: Int, columns: Int) -> WeightMatrix {
        let m = WeightMatrix(rows: rows, columns: columns, element: .f32)
        values.withUnsafeBytes { m.bytes.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return m
    }
}

extension Int32 {
    /// The low byte as a two's-complement int8.
    var signExtendedByte: Int32 { Int32(Int8(truncatingIfNeeded: self)) }
}

extension SplitMix64 {
    /// Uniform in [0, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
