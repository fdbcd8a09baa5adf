import CQuantized

/// A weight matrix W [rows, columns] in bfloat16 for the AVX-512 BF16 product (`weights_dtype: bf16` on a CPU
/// that has it): each value rounded to nearest even (a BF16 checkpoint's values exactly), packed for vdpbf16ps
/// (`CQuantized.h`: panels of 16 rows, K in steps of 2). Half of F32's bytes; activations are rounded to bf16
/// per product and the sums kept in F32.
final class BF16Matrix: PackedWeights, @unchecked Sendable {
    let rows: Int
    let columns: Int
    /// [paddedRows / 16, paddedColumns / 2, 16, 2] bf16, 64-byte aligned
    let packed: UnsafeMutablePointer<UInt16>
    private let elements: Int
    /// the kernel: AVX-512 BF16, or the scalar loop that reproduces it (the tests' reference)
    let usesReference: Bool

    /// Rounds F32 W [rows, columns] (rows `columns` apart); `reference`: products by the scalar loop.
    init(rounding source: UnsafePointer<Float>, rows: Int, columns: Int, reference: Bool = false) {
        self.rows = rows
        self.columns = columns
        usesReference = reference || !Self.isAvailable
        elements = max(irq16_packed_elements(Int32(rows), Int32(columns)), 1)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: elements * 2, alignment: 64)
        raw.initializeMemory(as: UInt16.self, repeating: 0, count: elements)
        packed = raw.bindMemory(to: UInt16.self, capacity: elements)
        irq16_pack_weight_rows(source, Int32(rows), Int32(columns), 0, Int32(rows), packed)
    }

    deinit { UnsafeMutableRawPointer(packed).deallocate() }

    /// Whether this CPU multiplies in bf16 (AVX-512 BF16); without it `weights_dtype: bf16` keeps plain 16-bit
    /// matrices widened to F32 inside each product.
    static var isAvailable: Bool { irq16_path_available(Int32(IRQ16_AVX512_BF16)) != 0 }

    var byteCount: Int { elements * 2 }

    var activationRowBytes: Int { 2 * Int(irq16_padded_k(Int32(columns))) }

    func prepare(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into values: UnsafeMutableRawPointer,
                 scales: UnsafeMutablePointer<Float>) {
        irq16_convert_activations(x, Int32(rows), Int32(columns), Int32(ldx), values.assumingMemoryBound(to: UInt16.self))
    }

    func product(values: UnsafeRawPointer, scales: UnsafePointer<Float>, rows: Int, outputs: Range<Int>,
                 into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        irq16_gemm(Int32(usesReference ? IRQ16_SCALAR : IRQ16_AVX512_BF16), Int32(rows), Int32(columns), values.assumingMemoryBound(to: UInt16.self),
                   packed, Int32(outputs.lowerBound), Int32(outputs.upperBound), y, Int32(ldy), accumulate ? 1 : 0)
    }

    func dequantize(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        irq16_unpack_rows(packed, Int32(rows), Int32(columns), Int32(range.lowerBound), Int32(range.count), destination)
    }
}
