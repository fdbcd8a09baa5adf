/// A weight matrix [rows, columns], row-major, in the element type it is kept
/// in memory: an `nn.Linear` weight [out, in] (applied as y = x W^T), a fused
/// stack of them, or the embedding table [vocab, d_model].
///
/// F32 checkpoints are kept as F32 and multiplied in place. BF16 and F16
/// checkpoints are kept 16-bit (half the memory) and `GEMM` widens
/// them `sliceRows(columns:)` rows at a time into per-thread F32 scratch just before
/// each product: the widening is O(weights), the product O(rows × weights).
/// Only `GEMM` reads the elements for a product, of a whole matrix or of a
/// `WeightTile` (some of its rows); `widen(rows:into:)` is the row lookup
/// (embeddings, a pointwise readout's vocabulary rows).
///
/// Storage is an anonymous, 64-byte aligned copy, not the file mapping: the
/// file's pages are dropped after load, so resident memory is exactly these
/// bytes; fused matrices (q|k|v, wi_0|wi_1, every layer's cross K|V) need a
/// copy anyway; and a checkpoint file replaced or truncated while serving
/// cannot fault a mapped read.
final class WeightMatrix: @unchecked Sendable {
    let rows: Int
    let columns: Int
    let element: TensorDType
    /// [rows, columns] elements of `element`, 64-byte aligned
    let bytes: UnsafeMutableRawPointer

    /// Uninitialised storage; the loader fills `bytes`.
    init(rows: Int, columns: Int, element: TensorDType) {
        self.rows = rows
        self.columns = columns
        self.element = element
        // 64-byte alignment keeps the AVX-512 loads in OpenBLAS and in our SIMD loops on one cache line each.
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(rows * columns, 1) * element.byteWidth, alignment: 64)
    }

    deinit { bytes.deallocate() }

    var byteCount: Int { rows * columns * element.byteWidth }

    /// The elements as F32 [rows, columns] when kept as F32; nil when 16-bit.
    var float32: UnsafePointer<Float>? {
        element == .f32 ? UnsafePointer(bytes.assumingMemoryBound(to: Float.self)) : nil
    }

    /// Writes rows `range` as F32 [range.count, columns] to `destination`.
    func widen(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        element.widen(bytes + range.lowerBound * columns * element.byteWidth, count: range.count * columns,
                      into: destination)
    }

    /// F32 elements one widened slice aims for: 1 MiB, inside this machine's
    /// (Zen) 32 MiB L3, so sgemm packs a slice from cache just after it was written.
    static let sliceFloats = 256 * 1024
    /// Slices have at least this many rows: sgemm packs the activations x
    /// [rows, columns] again on every call, one more float moved per
    /// 2 × (slice rows) flops. Measured on Zen (M=100 activation rows,
    /// flan-t5-base shapes, sgemm per slice against one sgemm over the whole
    /// F32 matrix): 85-row slices cost 20-25 %, 256-512 rows 2-8 %.
    static let minimumSliceRows = 256

    /// Rows of a [*, columns] matrix widened per product call.
    static func sliceRows(columns: Int) -> Int {
        max(minimumSliceRows, sliceFloats / max(columns, 1))
    }

    /// F32 scratch one thread needs to widen slices of any matrix up to `columns` wide.
    static func scratchFloats(maxColumns columns: Int) -> Int {
        max(minimumSliceRows * columns, sliceFloats)
    }
}
