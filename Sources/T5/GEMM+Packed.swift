/// Weights packed at load in the layout their kernel reads: our own int8 and bf16 products (`weights_dtype: int8`
/// or `bf16`, `CQuantized.h`), and F32 for OpenBLAS's own kernel (`BLASPackedMatrix`). `GEMM` multiplies by them
/// with the activations prepared for the same kernel (quantized per row, rounded to bf16, or read in place);
/// products that are not y = x W^T read rows back through `dequantize`.
protocol PackedWeights: AnyObject, Sendable {
    var rows: Int { get }
    var columns: Int { get }
    /// resident bytes
    var byteCount: Int { get }
    /// The kernel reads F32 activations as they lie (rows `columns` apart): `prepare` is skipped where x's rows
    /// are `columns` apart already.
    var readsActivationsInPlace: Bool { get }
    /// bytes of one prepared activation row
    var activationRowBytes: Int { get }
    /// x [rows, columns] (rows `ldx` apart) prepared into `values` ([rows, activationRowBytes]) and `scales` ([rows],
    /// where the format has them)
    func prepare(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into values: UnsafeMutableRawPointer,
                 scales: UnsafeMutablePointer<Float>)
    /// y[rows, outputs.count] (rows `ldy` apart) (+)= prepared x · W[outputs]^T, on the calling thread
    func product(values: UnsafeRawPointer, scales: UnsafePointer<Float>, rows: Int, outputs: Range<Int>,
                 into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool)
    /// rows `range` as F32 [range.count, columns]
    func dequantize(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>)
}

extension PackedWeights {
    var readsActivationsInPlace: Bool { false }
}

/// x prepared for one packed product: [rows, rowBytes] and [rows] scales, allocated, filled and freed by
/// `withPrepared` around one call.
struct PreparedActivations {
    let values: UnsafeRawPointer     // [rows, rowBytes]
    let scales: UnsafePointer<Float> // [rows]
    let rowBytes: Int

    func rows(from row: Int) -> (values: UnsafeRawPointer, scales: UnsafePointer<Float>) {
        (values + row * rowBytes, scales + row)
    }

    /// The scales of activations read in place: there are none, and no kernel reads this.
    nonisolated(unsafe) private static let noScales = UnsafePointer(UnsafeMutablePointer<Float>.allocate(capacity: 1))

    /// Prepares x [rows, weights.columns] (rows `ldx` apart) for `weights`' kernel and calls `body`. Rows are split
    /// over `threads` when there are enough of them to pay for the hand-off.
    static func withPrepared<R>(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, for weights: any PackedWeights,
                                threads: Int, _ body: (PreparedActivations) -> R) -> R {
        let rowBytes = weights.activationRowBytes
        if weights.readsActivationsInPlace && ldx == weights.columns {
            return body(PreparedActivations(values: UnsafeRawPointer(x), scales: noScales, rowBytes: rowBytes))
        }
        let values = UnsafeMutableRawPointer.allocate(byteCount: max(rows * rowBytes, 1), alignment: 64)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: max(rows, 1))
        defer { values.deallocate(); scales.deallocate() }
        let parts = rows * weights.columns >= 1 << 16 ? threads : 1
        Parallel.forEach(rows, threads: parts) { range, _ in
            weights.prepare(x + range.lowerBound * ldx, rows: range.count, ldx: ldx,
                            into: values + range.lowerBound * rowBytes, scales: scales + range.lowerBound)
        }
        return body(PreparedActivations(values: values, scales: scales, rowBytes: rowBytes))
    }
}

extension GEMM {
    /// y[M, tile.count] (rows `ldy` apart) (+)= x[M, in] · tile^T for a packed tile: x prepared once, then the
    /// kernel over `threads`, split along the larger side (output columns in whole panels of 16, or x's rows),
    /// as the F32 product is.
    static func linearPacked(_ x: UnsafePointer<Float>, rows: Int, weight tile: WeightTile, packed: any PackedWeights,
                             into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool, threads: Int) {
        let k = tile.columns, n = tile.count
        guard rows > 0, n > 0 else { return }
        let parts = Double(rows) * Double(n) * Double(k) < 2e6 ? 1 : threads
        PreparedActivations.withPrepared(x, rows: rows, ldx: k, for: packed, threads: parts) { a in
            let first = tile.rows.lowerBound
            if parts > 1 && rows > n {
                Parallel.forEach(rows, threads: parts) { range, _ in
                    let (values, scales) = a.rows(from: range.lowerBound)
                    packed.product(values: values, scales: scales, rows: range.count, outputs: first..<(first + n),
                                   into: y + range.lowerBound * ldy, ldy: ldy, accumulate: accumulate)
                }
            } else {
                let panels = (n + 15) / 16
                Parallel.forEach(panels, threads: parts) { range, _ in
                    let start = range.lowerBound * 16, end = min(n, range.upperBound * 16)
                    packed.product(values: a.values, scales: a.scales, rows: rows, outputs: (first + start)..<(first + end),
                                   into: y + start, ldy: ldy, accumulate: accumulate)
                }
            }
        }
    }

    /// `GEMM.linear(_:rows:blockRows:weight:tiles:...)` for a packed weight: x is prepared once, on the calling
    /// thread, and serves every tile and block.
    static func linearPacked(_ x: UnsafePointer<Float>, rows: Int, blockRows: Int, packed: any PackedWeights,
                             tiles: [Range<Int>], into y: UnsafeMutablePointer<Float>,
                             each body: (_ tile: Range<Int>, _ firstRow: Int, _ rows: Int) -> Void) {
        PreparedActivations.withPrepared(x, rows: rows, ldx: packed.columns, for: packed, threads: 1) { a in
            for tile in tiles {
                var start = 0
                while start < rows {
                    let count = min(blockRows, rows - start)
                    let (values, scales) = a.rows(from: start)
                    packed.product(values: values, scales: scales, rows: count, outputs: tile, into: y, ldy: tile.count,
                                   accumulate: false)
                    body(tile, start, count)
                    start += count
                }
            }
        }
    }
}
