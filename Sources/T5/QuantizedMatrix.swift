import CQuantized

/// A weight matrix W [rows, columns] in int8 (`weights_dtype: int8`): each row (one output channel of
/// an `nn.Linear`, one vocabulary row) quantized symmetrically, q = round(W / s) with s = max|W[row]| / 127,
/// packed for the int8 kernels (`CQuantized.h`: panels of 16 rows, K in steps of 4).
///
/// A quarter of F32's bytes plus 8 per row (scale and sum). `GEMM` multiplies by it with the activations
/// quantized per row at run time; products it cannot take in int8 read rows dequantized (`dequantize`).
final class QuantizedMatrix: PackedWeights, @unchecked Sendable {
    let rows: Int
    let columns: Int
    let kernel: Int8Kernel
    /// [paddedRows / 16, paddedColumns / 4, 16, 4] int8, 64-byte aligned
    let packed: UnsafeMutablePointer<Int8>
    /// [paddedRows] per-row scales, the padding 0
    let scales: UnsafeMutablePointer<Float>
    /// [paddedRows] sums of each row's int8 values (the VNNI kernel's offset correction), the padding 0
    let sums: UnsafeMutablePointer<Int32>

    /// Quantizes F32 W [rows, columns] (rows `columns` apart).
    init(quantizing source: UnsafePointer<Float>, rows: Int, columns: Int, kernel: Int8Kernel) {
        self.rows = rows
        self.columns = columns
        self.kernel = kernel
        let packedBytes = irq8_packed_bytes(Int32(rows), Int32(columns))
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(packedBytes, 1), alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(packedBytes, 1))
        packed = raw.bindMemory(to: Int8.self, capacity: max(packedBytes, 1))
        let padded = Int(irq8_padded_n(Int32(rows)))
        scales = .allocate(capacity: max(padded, 1))
        scales.initialize(repeating: 0, count: max(padded, 1))
        sums = .allocate(capacity: max(padded, 1))
        sums.initialize(repeating: 0, count: max(padded, 1))
        irq8_quantize_weight_rows(source, Int32(rows), Int32(columns), 0, Int32(rows), packed, scales, sums)
    }

    deinit {
        UnsafeMutableRawPointer(packed).deallocate()
        scales.deallocate()
        sums.deallocate()
    }

    /// Resident bytes: the packed values, the scales and the sums.
    var byteCount: Int {
        irq8_packed_bytes(Int32(rows), Int32(columns)) + Int(irq8_padded_n(Int32(rows))) * 8
    }

    var activationRowBytes: Int { Int(irq8_padded_k(Int32(columns))) }

    func prepare(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into values: UnsafeMutableRawPointer,
                 scales: UnsafeMutablePointer<Float>) {
        irq8_quantize_activations(kernel.code, x, Int32(rows), Int32(columns), Int32(ldx),
                                  values.assumingMemoryBound(to: UInt8.self), scales)
    }

    func product(values: UnsafeRawPointer, scales: UnsafePointer<Float>, rows: Int, outputs: Range<Int>,
                 into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        irq8_gemm(kernel.code, Int32(rows), Int32(columns), values.assumingMemoryBound(to: UInt8.self), scales, packed,
                  self.scales, sums, Int32(outputs.lowerBound), Int32(outputs.upperBound), y, Int32(ldy), accumulate ? 1 : 0)
    }

    /// Rows `range` as F32 [range.count, columns] (q × s) into `destination`.
    func dequantize(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        irq8_dequantize_rows(packed, scales, Int32(rows), Int32(columns), Int32(range.lowerBound), Int32(range.count),
                             destination)
    }
}
