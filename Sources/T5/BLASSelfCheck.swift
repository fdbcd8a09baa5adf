#if canImport(Glibc)
import Glibc
#endif
import Randomness

/// Start-up check that the BLAS library multiplies correctly on this CPU.
///
/// Some OpenBLAS builds have picked kernels that return wrong results on new
/// CPUs. A reranker that silently ranks with wrong numbers is worse than one
/// that refuses to start, so `serve` runs this before loading the model.
public enum BLASSelfCheck {
    /// (M, N, K, transposed B) shapes: M=1 (one decoder row), odd sizes that are
    /// not multiples of 16, and one large enough to use the threaded path.
    static let shapes: [(Int, Int, Int, Bool)] = [
        (1, 37, 64, true), (1, 512, 384, true), (7, 13, 5, false), (33, 47, 29, true),
        (64, 96, 80, false), (129, 257, 65, true), (384, 200, 160, true),
    ]

    /// Throws `T5Error.blasSelfCheckFailed` naming the library, its core type and
    /// `OPENBLAS_CORETYPE` when any product differs from a plain loop beyond
    /// float rounding. Returns the worst relative error seen.
    @discardableResult
    public static func run() throws -> Float {
        var rng = SplitMix64(seed: 7)
        var worst: Float = 0
        for (m, n, k, transposed) in shapes {
            let a = Tensor(shape: [m, k], zeroed: false)      // [M, K]
            let b = Tensor(shape: transposed ? [n, k] : [k, n], zeroed: false)
            let c = Tensor(shape: [m, n])                      // [M, N]
            for i in 0..<a.count { a.data[i] = rng.nextNormal() }
            for i in 0..<b.count { b.data[i] = rng.nextNormal() }
            GEMM.multiply(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: transposed ? k : n,
                          bTransposed: transposed, c: c.data, ldc: n)
            for i in 0..<m {
                for j in 0..<n {
                    var sum: Double = 0, magnitude: Double = 0
                    for p in 0..<k {
                        let bv = transposed ? b.data[j * k + p] : b.data[p * n + j]
                        let term = Double(a.data[i * k + p]) * Double(bv)
                        sum += term
                        magnitude += abs(term)
                    }
                    let error = Float(abs(Double(c.data[i * n + j]) - sum) / max(magnitude, 1e-6))
                    worst = max(worst, error)
                    // float32 accumulation of k terms: k * 2^-24 relative to the magnitude, with margin
                    if !(error <= Float(k) * 1.2e-7 * 4 + 1e-6) {
                        let coretype = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) } ?? "(unset)"
                        throw T5Error.blasSelfCheckFailed(
                            "BLAS self-check failed: cblas_sgemm \(m)x\(n)x\(k) (B\(transposed ? "^T" : "")) differs from the reference loop at [\(i),\(j)]: \(c.data[i * n + j]) vs \(sum). Library: \(BLASIdentity.current().description); OPENBLAS_CORETYPE=\(coretype). Set OPENBLAS_CORETYPE to a kernel known to work on this CPU (e.g. Haswell) or install another BLAS build.")
                    }
                }
            }
        }
        return worst
    }
}
