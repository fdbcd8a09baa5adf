import COpenBLAS

/// The one place that touches BLAS (and our int8 and bf16 kernels, `GEMM+Packed.swift`). Everything else in the
/// engine multiplies matrices through `GEMM.multiply` and `GEMM.linear`.
public enum GEMM {
    /// C[M,N] = alpha * A[M,K] · op(B) + beta * C, all row-major.
    /// `bTransposed` means B is stored [N,K] (an `nn.Linear` weight) and used as B^T.
    /// Leading dimensions allow working on column slices (one attention head
    /// inside a [rows, inner] buffer) without copying.
    /// Public only to the benchmarks (`@_spi(Benchmarks) import T5`), which time this same call for the sgemm ceiling.
    @inline(__always) @_spi(Benchmarks)
    public static func multiply(
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
    ///
    /// A 16-bit W is always split along its rows, so each thread widens only
    /// its own share, slice by slice, into its row of `scratch`
    /// ([threads, WeightMatrix.scratchFloats], `Workspace.weightSlices`).
    /// A packed W (int8, bf16) is multiplied by its own kernel (`linearPacked`, x prepared once).
    static func linear(_ x: UnsafePointer<Float>, rows: Int, weight: WeightMatrix,
                       into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, threads: Int = 1,
                       scratch: Tensor) {
        let n = weight.rows, k = weight.columns
        guard let w = weight.float32 else {
            linear(x, rows: rows, weight: weight.tile(rows: 0..<n), into: y, accumulate: accumulate, threads: threads,
                   scratch: scratch)
            return
        }
        let beta: Float = accumulate ? 1 : 0
        let parts = partsFor(rows: rows, n: n, k: k, threads: threads)
        if rows >= n {
            Parallel.forEach(rows, threads: parts) { range, _ in
                multiply(m: range.count, n: n, k: k, a: x + range.lowerBound * k, lda: k,
                         b: w, ldb: k, bTransposed: true,
                         c: y + range.lowerBound * n, ldc: n, beta: beta)
            }
        } else {
            Parallel.forEach(n, threads: parts) { range, _ in
                multiply(m: rows, n: range.count, k: k, a: x, lda: k,
                         b: w + range.lowerBound * k, ldb: k, bTransposed: true,
                         c: y + range.lowerBound, ldc: n, beta: beta)
            }
        }
    }

    /// y[M, tile.count] (+)= x[M, in] · tile^T, split over `threads` along the tile's rows:
    /// a 16-bit W whole, or one block of a stacked weight (one decoder layer's cross K|V).
    static func linear(_ x: UnsafePointer<Float>, rows: Int, weight tile: WeightTile,
                       into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, threads: Int, scratch: Tensor) {
        if let packed = tile.matrix.packed {
            linearPacked(x, rows: rows, weight: tile, packed: packed, into: y, ldy: tile.count, accumulate: accumulate,
                       threads: threads)
            return
        }
        let n = tile.count, first = tile.rows.lowerBound
        let beta: Float = accumulate ? 1 : 0
        Parallel.forEach(n, threads: partsFor(rows: rows, n: n, k: tile.columns, threads: threads)) { range, worker in
            let block = tile.matrix.tile(rows: (first + range.lowerBound)..<(first + range.upperBound))
            linear(x, rows: rows, weight: block, into: y + range.lowerBound, ldy: n,
                   beta: beta, scratch: scratch.data + worker * scratch.columns)
        }
    }

    /// Threads for a product of rows × n × k: one below 2 M multiply-adds, where a hand-off costs more than it saves.
    private static func partsFor(rows: Int, n: Int, k: Int, threads: Int) -> Int {
        Double(rows) * Double(n) * Double(k) < 2e6 ? 1 : threads
    }

    /// y[M, tile.count] (rows `ldy` apart) = x[M, in] · tile^T + beta · y,
    /// on the calling thread. A 16-bit tile is widened `WeightMatrix.sliceRows`
    /// rows at a time into `scratch` (at least `WeightMatrix.scratchFloats`
    /// floats, private to this thread) and each slice is one sgemm.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, weight tile: WeightTile,
                       into y: UnsafeMutablePointer<Float>, ldy: Int, beta: Float = 0,
                       scratch: UnsafeMutablePointer<Float>) {
        let k = tile.columns, weightRows = tile.rows
        if let w = tile.matrix.float32 {
            multiply(m: rows, n: weightRows.count, k: k, a: x, lda: k, b: w + weightRows.lowerBound * k, ldb: k,
                     bTransposed: true, c: y, ldc: ldy, beta: beta)
            return
        }
        if let packed = tile.matrix.packed, beta == 0 || beta == 1 {
            linearPacked(x, rows: rows, weight: tile, packed: packed, into: y, ldy: ldy, accumulate: beta == 1, threads: 1)
            return
        }
        forEachWidenedSlice(of: tile, into: scratch) { offset, count in      // scratch: [count, k]
            multiply(m: rows, n: count, k: k, a: x, lda: k, b: scratch, ldb: k, bTransposed: true,
                     c: y + offset, ldc: ldy, beta: beta)
        }
    }

    /// y[M, tile.columns] (rows `ldy` apart) = x[M, tile.count] (rows `lda` apart) · tile, the tile
    /// untransposed (its rows are the inner dimension: one head's K rows of the cross K|V, taking a
    /// query into d_model space), on the calling thread. A 16-bit tile is widened
    /// `WeightMatrix.sliceRows` rows at a time into `scratch` (at least `WeightMatrix.scratchFloats`
    /// floats, private to this thread), each slice one sgemm adding its share of the inner sum.
    static func multiply(_ x: UnsafePointer<Float>, rows: Int, lda: Int, by tile: WeightTile,
                         into y: UnsafeMutablePointer<Float>, ldy: Int, scratch: UnsafeMutablePointer<Float>) {
        let n = tile.columns, weightRows = tile.rows
        if let w = tile.matrix.float32 {
            multiply(m: rows, n: n, k: weightRows.count, a: x, lda: lda, b: w + weightRows.lowerBound * n, ldb: n,
                     bTransposed: false, c: y, ldc: ldy)
            return
        }
        forEachWidenedSlice(of: tile, into: scratch) { offset, count in      // scratch: [count, n]
            multiply(m: rows, n: n, k: count, a: x + offset, lda: lda, b: scratch, ldb: n, bTransposed: false,
                     c: y, ldc: ldy, beta: offset == 0 ? 0 : 1)
        }
    }

    /// A 16-bit tile `WeightMatrix.sliceRows` rows at a time: each slice widened into `scratch`, then
    /// `body(offset, count)` with the slice's first row as an offset within the tile and its row count.
    private static func forEachWidenedSlice(of tile: WeightTile, into scratch: UnsafeMutablePointer<Float>,
                                            _ body: (_ offset: Int, _ count: Int) -> Void) {
        let weightRows = tile.rows, sliceRows = WeightMatrix.sliceRows(columns: tile.columns)
        var first = weightRows.lowerBound
        while first < weightRows.upperBound {
            let slice = first..<min(first + sliceRows, weightRows.upperBound)
            tile.matrix.widen(rows: slice, into: scratch)
            body(first - weightRows.lowerBound, slice.count)
            first = slice.upperBound
        }
    }

    /// For each tile of `weight` in `tiles` (consecutive rows: lm_head's vocabulary tiles), and each block of up
    /// to `blockRows` rows of x[M, in]: y[block rows, tile.count] = x[block, :] · tile^T, then
    /// `body(tile, firstRow, blockRows)` reads y while it is still in cache (a running log-sum-exp, the target
    /// logits picked). On the calling thread; `y` holds [blockRows, largest tile] floats. A 16-bit tile is widened
    /// once, whole, into `scratch` (at least tile.count × columns floats, private to this thread) and serves every
    /// block: widening is paid per tile, not per block of rows. A packed weight has x prepared once for all tiles.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, blockRows: Int, weight: WeightMatrix, tiles: [Range<Int>],
                       into y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                       each body: (_ tile: Range<Int>, _ firstRow: Int, _ rows: Int) -> Void) {
        if let packed = weight.packed {
            linearPacked(x, rows: rows, blockRows: blockRows, packed: packed, tiles: tiles, into: y, each: body)
            return
        }
        let k = weight.columns
        for tile in tiles {
            let n = tile.count
            let w: UnsafePointer<Float>                           // [tile.count, k]
            if let whole = weight.float32 {
                w = whole + tile.lowerBound * k
            } else {
                weight.widen(rows: tile, into: scratch)
                w = UnsafePointer(scratch)
            }
            var start = 0
            while start < rows {
                let count = min(blockRows, rows - start)
                multiply(m: count, n: n, k: k, a: x + start * k, lda: k, b: w, ldb: k, bTransposed: true, c: y, ldc: n)
                body(tile, start, count)
                start += count
            }
        }
    }

    /// Threads OpenBLAS uses for each product.
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }
}
