import COpenBLAS

/// The one place that touches BLAS. Everything else in the engine multiplies
/// matrices through `GEMM.multiply`.
public enum GEMM {
    /// C[M,N] = alpha * A[M,K] · op(B) + beta * C, all row-major.
    /// `bTransposed` means B is stored [N,K] (an `nn.Linear` weight) and used as B^T.
    /// Leading dimensions allow working on column slices (one attention head
    /// inside a [rows, inner] buffer) without copying.
    @inline(__always)
    static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, bTransposed: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, bTransposed ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y[M, out] (+)= x[M, in] · W^T for an `nn.Linear` weight W [out, in],
    /// split over `threads` of our own threads.
    ///
    /// The engine runs OpenBLAS single-threaded and partitions every product
    /// itself: on a 2-core machine a second pool of spinning BLAS threads
    /// would fight our element-wise loops for the same cores. The split runs
    /// along the larger of the two output dimensions: each thread's sgemm
    /// packs its whole share of the other operand, so splitting x's rows makes
    /// every thread pack all of W, and splitting W's rows (output columns)
    /// makes every thread pack all of x. Packing the smaller one twice is
    /// cheaper (lm_head: W is 32128 rows against a few hundred of x).
    static func linear(_ x: UnsafePointer<Float>, rows: Int, weight: Tensor,
                       into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, threads: Int = 1) {
        let n = weight.rows, k = weight.columns
        let beta: Float = accumulate ? 1 : 0
        let work = Double(rows) * Double(n) * Double(k)
        let parts = work < 2e6 ? 1 : threads
        if rows >= n {
            Parallel.forEach(rows, threads: parts) { range, _ in
                multiply(m: range.count, n: n, k: k, a: x + range.lowerBound * k, lda: k,
                         b: weight.data, ldb: k, bTransposed: true,
                         c: y + range.lowerBound * n, ldc: n, beta: beta)
            }
        } else {
            Parallel.forEach(n, threads: parts) { range, _ in
                multiply(m: rows, n: range.count, k: k, a: x, lda: k,
                         b: weight.data + range.lowerBound * k, ldb: k, bTransposed: true,
                         c: y + range.lowerBound, ldc: n, beta: beta)
            }
        }
    }

    /// Public entry for benchmarks: C[M,N] = A[M,K] · B[N,K]^T.
    public static func benchmarkMultiply(m: Int, n: Int, k: Int, a: Tensor, b: Tensor, c: Tensor) {
        multiply(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: k, bTransposed: true, c: c.data, ldc: n)
    }

    /// Threads OpenBLAS uses for each product.
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// "OpenBLAS <config> core=<name>" for start-up logs and error messages.
    public static var backendDescription: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "unknown"
        return "OpenBLAS (\(config)), core type \(coreName)"
    }

    public static var coreName: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }
}
