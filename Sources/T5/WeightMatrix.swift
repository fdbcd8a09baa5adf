import CQuantized

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
/// With `weights_dtype: int8` every matrix is quantized at load into a `QuantizedMatrix` (a quarter
/// of F32's bytes), with `bf16` on a CPU with AVX-512 BF16 rounded into a `BF16Matrix` (half), and `GEMM`
/// multiplies by them with our own kernels (`PackedWeights`).
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
    /// [rows, columns] elements of `element`, 64-byte aligned (empty when `packed` holds the matrix)
    let bytes: UnsafeMutableRawPointer
    /// The matrix packed for our own int8 or bf16 kernel (`weights_dtype: int8` or `bf16`), made from F32 at
    /// load; nil otherwise.
    let packed: (any PackedWeights)?

    /// Uninitialised storage; the loader fills `bytes`.
    init(rows: Int, columns: Int, element: TensorDType) {
        self.rows = rows
        self.columns = columns
        self.element = element
        // 64-byte alignment keeps the AVX-512 loads in OpenBLAS and in our SIMD loops on one cache line each.
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(rows * columns, 1) * element.byteWidth, alignment: 64)
        packed = nil
    }

    /// The int8 form of a matrix, for `kernel`; `source` may be freed afterwards.
    convenience init(quantizing source: WeightMatrix, kernel: Int8Kernel) {
        self.init(packing: source) { QuantizedMatrix(quantizing: $0, rows: source.rows, columns: source.columns, kernel: kernel) }
    }

    /// The bf16 form of a matrix for the AVX-512 BF16 kernel (`reference`: its scalar loop); `source` may be freed
    /// afterwards.
    convenience init(roundingToBF16 source: WeightMatrix, reference: Bool = false) {
        self.init(packing: source) { BF16Matrix(rounding: $0, rows: source.rows, columns: source.columns, reference: reference) }
    }

    /// An F32 or bf16 matrix packed for OpenBLAS's own kernel (`BLASPackedMatrix`), in its own element type;
    /// `source` may be freed afterwards. Only where `BLASPackedMatrix.isAvailable`.
    convenience init(packingForBLAS source: WeightMatrix) {
        let element: TensorDType = source.element == .bf16 ? .bf16 : .f32
        self.init(packing: source, element: element) {
            BLASPackedMatrix(packing: $0, rows: source.rows, columns: source.columns, element: element)
        }
    }

    /// The plain 16-bit form of a matrix (bf16, rounded to nearest even), widened slice by slice inside each
    /// product: `weights_dtype: bf16` on a CPU without AVX-512 BF16.
    convenience init(plainBF16 source: WeightMatrix) {
        self.init(rows: source.rows, columns: source.columns, element: .bf16)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: max(rows * columns, 1))     // [rows, columns]
        defer { floats.deallocate() }
        source.widen(rows: 0..<rows, into: floats)
        irq16_round(floats, rows * columns, bytes.assumingMemoryBound(to: UInt16.self))
    }

    /// `element`: the type the packed form keeps (reduced-precision kernels report theirs through `packed`).
    private init(packing source: WeightMatrix, element: TensorDType = .f32, _ make: (UnsafePointer<Float>) -> any PackedWeights) {
        rows = source.rows
        columns = source.columns
        self.element = element
        bytes = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
        if let f32 = source.float32 {      // F32 already: packed from where it lies, no third copy at load
            packed = make(f32)
            return
        }
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: max(rows * columns, 1))     // [rows, columns]
        defer { floats.deallocate() }
        source.widen(rows: 0..<rows, into: floats)
        packed = make(floats)
    }

    deinit { bytes.deallocate() }

    var byteCount: Int { packed?.byteCount ?? rows * columns * element.byteWidth }

    /// The int8 form, when this matrix is one.
    var int8: QuantizedMatrix? { packed as? QuantizedMatrix }

    /// The elements as F32 [rows, columns] when kept as F32; nil when 16-bit or packed.
    var float32: UnsafePointer<Float>? {
        element == .f32 && packed == nil ? UnsafePointer(bytes.assumingMemoryBound(to: Float.self)) : nil
    }

    /// Writes rows `range` as F32 [range.count, columns] to `destination` (packed rows dequantized).
    func widen(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        if let packed {
            packed.dequantize(rows: range, into: destination)
            return
        }
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
