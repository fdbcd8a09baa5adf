import CQuantized

/// x [rows, columns] quantized per row for int8 products (`CQuantized.h`): int8 values (or, for the VNNI
/// kernel, the same plus 128 as uint8) [rows, paddedColumns], zero padded, and one F32 scale per row.
/// Scoped to one product call: `withQuantized` allocates, fills and frees it.
struct QuantizedActivations {
    let values: UnsafePointer<UInt8>     // [rows, paddedColumns]
    let scales: UnsafePointer<Float>     // [rows]
    let paddedColumns: Int

    /// Rows from `row` on, as the kernel reads them.
    func rows(from row: Int) -> (values: UnsafePointer<UInt8>, scales: UnsafePointer<Float>) {
        (values + row * paddedColumns, scales + row)
    }

    /// Quantizes x [rows, columns] (rows `ldx` apart) for `kernel` and calls `body`. Rows are split over
    /// `threads` when there are enough of them to pay for the hand-off.
    static func withQuantized<R>(_ x: UnsafePointer<Float>, rows: Int, columns: Int, ldx: Int, kernel: Int8Kernel,
                                 threads: Int, _ body: (QuantizedActivations) -> R) -> R {
        let padded = Int(irq8_padded_k(Int32(columns)))
        let values = UnsafeMutablePointer<UInt8>.allocate(capacity: max(rows * padded, 1))
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: max(rows, 1))
        defer { values.deallocate(); scales.deallocate() }
        let parts = rows * columns >= 1 << 16 ? threads : 1
        Parallel.forEach(rows, threads: parts) { range, _ in
            irq8_quantize_activations(kernel.code, x + range.lowerBound * ldx, Int32(range.count), Int32(columns),
                                      Int32(ldx), values + range.lowerBound * padded, scales + range.lowerBound)
        }
        return body(QuantizedActivations(values: values, scales: scales, paddedColumns: padded))
    }
}

extension GEMM {
    /// y[M, tile.count] (rows `ldy` apart) (+)= x[M, in] · tile^T for an int8 tile: x quantized per row
    /// once, then the kernel over `threads`, split along the larger side (output columns in whole panels
    /// of 16, or x's rows), as the F32 product is.
    static func linearInt8(_ x: UnsafePointer<Float>, rows: Int, weight tile: WeightTile, int8 q: QuantizedMatrix,
                           into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool, threads: Int) {
        let k = tile.columns, n = tile.count
        guard rows > 0, n > 0 else { return }
        let parts = Double(rows) * Double(n) * Double(k) < 2e6 ? 1 : threads
        QuantizedActivations.withQuantized(x, rows: rows, columns: k, ldx: k, kernel: q.kernel, threads: parts) { a in
            let first = tile.rows.lowerBound
            if parts > 1 && rows > n {
                Parallel.forEach(rows, threads: parts) { range, _ in
                    let (values, scales) = a.rows(from: range.lowerBound)
                    product(q, rows: range.count, values: values, scales: scales, outputs: first..<(first + n),
                            into: y + range.lowerBound * ldy, ldy: ldy, accumulate: accumulate)
                }
            } else {
                let panels = (n + 15) / 16
                Parallel.forEach(panels, threads: parts) { range, _ in
                    let start = range.lowerBound * 16, end = min(n, range.upperBound * 16)
                    product(q, rows: rows, values: a.values, scales: a.scales, outputs: (first + start)..<(first + end),
                            into: y + start, ldy: ldy, accumulate: accumulate)
                }
            }
        }
    }

    /// For each block of up to `blockRows` rows of x[M, in]: y[block rows, tile.count] = x[block, :] · tile^T
    /// for an int8 tile, then `body(firstRow, blockRows)` (the lm_head's vocabulary tiles, as the F32 form).
    /// x is quantized once for every block, on the calling thread.
    static func linearInt8(_ x: UnsafePointer<Float>, rows: Int, blockRows: Int, weight tile: WeightTile,
                           int8 q: QuantizedMatrix, into y: UnsafeMutablePointer<Float>,
                           each body: (_ firstRow: Int, _ rows: Int) -> Void) {
        QuantizedActivations.withQuantized(x, rows: rows, columns: tile.columns, ldx: tile.columns, kernel: q.kernel,
                                           threads: 1) { a in
            var start = 0
            while start < rows {
                let count = min(blockRows, rows - start)
                let (values, scales) = a.rows(from: start)
                product(q, rows: count, values: values, scales: scales, outputs: tile.rows, into: y, ldy: tile.count,
                        accumulate: false)
                body(start, count)
                start += count
            }
        }
    }

    /// y[rows, outputs.count] (rows `ldy` apart) (+)= quantized x · W[outputs]^T, on the calling thread.
    private static func product(_ q: QuantizedMatrix, rows: Int, values: UnsafePointer<UInt8>,
                                scales: UnsafePointer<Float>, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>,
                                ldy: Int, accumulate: Bool) {
        irq8_gemm(q.kernel.code, Int32(rows), Int32(q.columns), values, scales, q.packed, q.scales, q.sums,
                  Int32(outputs.lowerBound), Int32(outputs.upperBound), y, Int32(ldy), accumulate ? 1 : 0)
    }
}
