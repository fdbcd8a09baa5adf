import Foundation
@_spi(Benchmarks) import T5

/// Weights packed at load for OpenBLAS's own kernel (`T5Weights.packedForBLAS()`) against the same weights
/// row-major through `cblas_sgemm`, which copies each weight into the kernel's layout on every call: one
/// workload, the two scorers interleaved call by call, back to back, with the worst score difference. Twice: the
/// weights in F32, then rounded to bf16 and kept 16-bit (as `weights_dtype: auto` keeps a BF16 checkpoint: widened
/// slice by slice before sgemm when row-major, block by block before the kernel when packed).
enum BLASPackingBench {
    static func run(name: String, rowMajor: T5Weights, threads: Int, input: ScoringInput, iterations: Int) throws {
        guard WeightPacking.isUsed else {
            print("  BLAS packing (\(name)): \(WeightPacking.description)")
            return
        }
        // A BF16 checkpoint is kept 16-bit already: once is enough.
        let sixteenBit = rowMajor.matrixElement == "BF16" ? nil : rowMajor.roundedToBF16(products: false)
        let runs = [("\(rowMajor.matrixElement) as loaded", rowMajor)] + (sixteenBit.map { [("rounded to bf16, kept 16-bit", $0)] } ?? [])
        for (label, weights) in runs {
            let packed = weights.packedForBLAS()
            guard packed.packsForBLAS else {
                print("  BLAS packing (\(name), \(label)): nothing to pack (F16 or reduced-precision matrices)")
                continue
            }
            try compare(name: "\(name), \(label)", rowMajor: weights, packed: packed, threads: threads, input: input,
                        iterations: iterations)
        }
    }

    static func compare(name: String, rowMajor: T5Weights, packed: T5Weights, threads: Int, input: ScoringInput,
                        iterations: Int) throws {
        let plain = T5Scorer(weights: rowMajor, threads: threads), fast = T5Scorer(weights: packed, threads: threads)
        func time(_ scorer: T5Scorer) throws -> (Double, [Float]) {
            let start = DispatchTime.now().uptimeNanoseconds
            let scores = try scorer.run(batch: [input])[0].get().sums
            return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, scores)
        }
        var a: [Double] = [], b: [Double] = [], worst: Float = 0
        for round in 0..<(iterations + 2) {
            let (ta, sa) = try time(plain)
            let (tb, sb) = try time(fast)
            worst = max(worst, zip(sa, sb).map { abs($0 - $1) }.max() ?? 0)
            if round >= 2 { a.append(ta); b.append(tb) }
        }
        print(String(format: "  BLAS packing (%@): weights packed at load %.2f ms, cblas_sgemm %.2f ms (%.3fx); "
                     + "worst |score difference| %.2e", name, median(b) * 1e3, median(a) * 1e3, median(b) / median(a),
                     Double(worst)))
    }
}
