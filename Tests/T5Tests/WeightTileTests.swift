import Foundation
import XCTest
@testable import T5

/// Products over some rows of a weight (`WeightTile`): GEMM reads the rows in place when F32
/// and widens them inside the product when 16-bit; both must give the product of those rows.
final class WeightTileTests: XCTestCase {
    /// Every tile product, on a tile of several widening slices (256 rows at k = 1100) that starts
    /// inside the matrix, equals the naive product of the same rows, for F32, BF16 and F16 storage.
    func testTileProductsEqualTheProductsOfTheirRows() {
        let n = 700, k = 1100, m = 4
        XCTAssertEqual(WeightMatrix.sliceRows(columns: k), 256)
        let tileRows = 100..<650      // 550 rows: three slices
        let blockTileRows = 100..<356 // widened whole by the blocked product: fits one thread's scratch
        var rng = SystemRandomNumberGenerator()
        for element in [TensorDType.f32, .bf16, .f16] {
            let matrix = WeightMatrix(rows: n, columns: k, element: element)
            let values = Tensor(shape: [n, k], zeroed: false)                  // [n, k] the elements as F32
            for i in 0..<(n * k) {
                let value = Float.random(in: -1...1, using: &rng)
                switch element {
                case .bf16:
                    let bits = UInt16(value.bitPattern >> 16)
                    matrix.bytes.storeBytes(of: bits, toByteOffset: 2 * i, as: UInt16.self)
                    values[i] = Float(bitPattern: UInt32(bits) << 16)
                case .f16:
                    matrix.bytes.storeBytes(of: Float16(value).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
                    values[i] = Float(Float16(value))
                default:
                    matrix.bytes.storeBytes(of: value, toByteOffset: 4 * i, as: Float.self)
                    values[i] = value
                }
            }
            let scratch = Tensor(shape: [1, WeightMatrix.scratchFloats(maxColumns: k)], zeroed: false)
            let x = Tensor(shape: [m, k], zeroed: false)                       // [m, k]
            for i in 0..<x.count { x[i] = Float.random(in: -1...1, using: &rng) }

            // x · tile^T: [m, tile rows]
            let linear = Tensor(shape: [m, tileRows.count])
            GEMM.linear(x.data, rows: m, weight: matrix.tile(rows: tileRows), into: linear.data, ldy: tileRows.count,
                        scratch: scratch.data)
            check(linear, rows: m, columns: tileRows.count, element, "x · tile^T") { r, j in
                (0..<k).reduce(0.0) { $0 + Double(x[r * k + $1]) * Double(values[(tileRows.lowerBound + j) * k + $1]) }
            }

            // x[:, :tile rows] · tile: [m, k], the inner sum over the tile's rows
            let product = Tensor(shape: [m, k])
            GEMM.multiply(x.data, rows: m, lda: k, by: matrix.tile(rows: tileRows), into: product.data, ldy: k,
                          scratch: scratch.data)
            check(product, rows: m, columns: k, element, "x · tile") { r, j in
                (0..<tileRows.count).reduce(0.0) { sum, i in
                    sum + Double(x[r * k + i]) * Double(values[(tileRows.lowerBound + i) * k + j])
                }
            }

            // x · tile^T by blocks of 3 rows, each block read in the body
            let blocks = Tensor(shape: [m, blockTileRows.count])
            let block = Tensor(shape: [3, blockTileRows.count])
            var seen = 0
            GEMM.linear(x.data, rows: m, blockRows: 3, weight: matrix, tiles: [blockTileRows], into: block.data,
                        scratch: scratch.data) { _, first, rows in
                XCTAssertEqual(first, seen)
                (blocks.data + first * blockTileRows.count).update(from: block.data, count: rows * blockTileRows.count)
                seen += rows
            }
            XCTAssertEqual(seen, m)
            check(blocks, rows: m, columns: blockTileRows.count, element, "blocks of x · tile^T") { r, j in
                (0..<k).reduce(0.0) { $0 + Double(x[r * k + $1]) * Double(values[(blockTileRows.lowerBound + j) * k + $1]) }
            }
        }
    }

    /// A pointwise readout (the first decoder step's cross K and V tiles, the readout's vocabulary
    /// rows) gives the same logits from a BF16 checkpoint kept 16-bit as from it widened at load.
    func testPointwiseLogitsOfA16BitCheckpointKeptOrWidened() throws {
        let directory = try Fixtures.model("t5-v1_1-tiny-bf16")
        let kept = T5Scorer(weights: try T5Weights(directory: directory, dtype: .auto), threads: 2)
        let widened = T5Scorer(weights: try T5Weights(directory: directory, dtype: .f32), threads: 2)
        XCTAssertEqual(kept.weights.crossKV.element, .bf16)
        let golden = try Fixtures.golden("t5-v1_1-tiny-bf16")
        let inputs = golden.cases.sorted(by: { $0.key < $1.key }).map { ScoringInput(instruction: $0.value.instruction, readout: [1, 2, 3]) }
        XCTAssertFalse(inputs.isEmpty)
        for (a, b) in zip(kept.run(batch: inputs), widened.run(batch: inputs)) {
            let x = try a.get().logits, y = try b.get().logits
            XCTAssertEqual(x.count, 3)
            for (u, v) in zip(x, y) { XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(v))) }
        }
    }

    private func check(_ result: Tensor, rows: Int, columns: Int, _ element: TensorDType, _ what: String,
                       reference: (Int, Int) -> Double, file: StaticString = #filePath, line: UInt = #line) {
        var worst = 0.0
        for r in 0..<rows {
            for j in 0..<columns { worst = max(worst, abs(Double(result[r * columns + j]) - reference(r, j))) }
        }
        // float32 sums of ~1,000 products of magnitude < 1 round by ~1e-4 at most; a wrong row is off by ~10.
        XCTAssertLessThanOrEqual(worst, 1e-3, "\(what), \(element)", file: file, line: line)
    }
}
