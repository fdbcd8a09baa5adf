@_spi(Benchmarks) import T5

/// Operands of one sgemm C[M,N] = A[M,K] · B[N,K]^T with fixed contents, run
/// through the engine's own `GEMM.multiply`, for measuring the sgemm ceiling
/// the engine's products are compared with (`instructrec-bench`).
final class SgemmProduct {
    let m: Int, n: Int, k: Int
    private var a: [Float], b: [Float], c: [Float]   // [M, K], [N, K], [M, N]

    init(m: Int, n: Int, k: Int) {
        self.m = m
        self.n = n
        self.k = k
        a = (0..<(m * k)).map { Float($0 % 7) * 0.01 }
        b = (0..<(n * k)).map { Float($0 % 5) * 0.01 }
        c = [Float](repeating: 0, count: m * n)
    }

    /// 2·M·N·K
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    func run() {
        let (m, n, k) = (self.m, self.n, self.k)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    guard let a = a.baseAddress, let b = b.baseAddress, let c = c.baseAddress else { return }   // an empty shape
                    GEMM.multiply(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, bTransposed: true, c: c, ldc: n)
                }
            }
        }
    }
}
