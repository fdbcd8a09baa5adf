import CPackedSGEMM
#if canImport(Glibc)
import Glibc
#endif

/// A weight matrix W [rows, columns] packed once, at load, by OpenBLAS's own copy routine, and multiplied by
/// OpenBLAS's own sgemm kernel (`CPackedSGEMM.h`): the arithmetic `cblas_sgemm` does, without copying W into the
/// kernel's layout again on every product. F32, or bfloat16 for a BF16 checkpoint kept 16-bit (`weights_dtype:
/// auto`): each block is widened to F32 just before the kernel reads it, as `GEMM` widened slices before sgemm
/// copied them. The bytes are the element type's; only the order differs.
///
/// Used for the matrices whose every product is y = x W^T (attention, feed-forward, an untied lm_head) when
/// OpenBLAS exports its running core type's routines and they pass `isAvailable`'s check; otherwise those matrices
/// stay row-major and go through `cblas_sgemm`.
final class BLASPackedMatrix: PackedWeights, @unchecked Sendable {
    let rows: Int
    let columns: Int
    /// .f32 or .bf16
    let element: TensorDType
    /// `ir_psg_packed_elements(rows, columns)` elements of `element` in the layout `CPackedSGEMM.h` describes,
    /// 64-byte aligned
    let packed: UnsafeMutableRawPointer
    private var format: Int32 { Self.format(element) }
    private static func format(_ element: TensorDType) -> Int32 { element == .bf16 ? Int32(IR_PSG_BF16) : Int32(IR_PSG_F32) }

    /// Packs W [rows, columns] (row-major, rows `columns` apart) as `element` (.f32, or .bf16 when every value is a
    /// bfloat16's, as a BF16 checkpoint's widened values are). Only after `isAvailable` said yes.
    init(packing source: UnsafePointer<Float>, rows: Int, columns: Int, element: TensorDType = .f32) {
        precondition(element == .f32 || element == .bf16, "packed for OpenBLAS's kernel: F32 or bf16 only")
        self.rows = rows
        self.columns = columns
        self.element = element
        packed = UnsafeMutableRawPointer.allocate(byteCount: ir_psg_packed_elements(rows, columns) * element.byteWidth,
                                                  alignment: 64)
        ir_psg_pack(source, rows, columns, Self.format(element), packed)
    }

    deinit { packed.deallocate() }

    /// The element type's bytes: the slack for the kernel's read-ahead is left out, as allocator overhead is.
    var byteCount: Int { rows * columns * element.byteWidth }

    /// x is read where it lies: the kernel's copy of it is made inside each product, as sgemm makes it.
    var readsActivationsInPlace: Bool { true }

    var activationRowBytes: Int { columns * 4 }

    func prepare(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into values: UnsafeMutableRawPointer,
                 scales: UnsafeMutablePointer<Float>) {
        let out = values.assumingMemoryBound(to: Float.self)
        for r in 0..<rows { (out + r * columns).update(from: x + r * ldx, count: columns) }
    }

    func product(values: UnsafeRawPointer, scales: UnsafePointer<Float>, rows m: Int, outputs: Range<Int>,
                 into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        ir_psg_product(packed, format, rows, columns, values.assumingMemoryBound(to: Float.self), m, columns,
                       outputs.lowerBound, outputs.count, y, ldy, accumulate ? 1 : 0)
    }

    func dequantize(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        ir_psg_unpack_rows(packed, format, rows, columns, range.lowerBound, range.count, destination)
    }

    /// Whether F32 and bf16 matrices are packed: OpenBLAS is a 0.3 release built with DYNAMIC_ARCH and exports the routines
    /// of the core type it runs, a product through them matches `cblas_sgemm` within float rounding on shapes that exercise
    /// every edge (partial blocks of rows, narrow column blocks, output ranges that start and end inside a block,
    /// accumulation), unpacking gives every element back exactly, and `INSTRUCTREC_BLAS_PACKING` is not `off`.
    /// Decided once per process.
    static var isAvailable: Bool { state.used }

    /// The decision and the reason for it, for the start-up log and /info.
    static let state: (used: Bool, reason: String) = {
        if let variable = getenv("INSTRUCTREC_BLAS_PACKING").map({ String(cString: $0) }), variable.lowercased() == "off" {
            return (false, "off (INSTRUCTREC_BLAS_PACKING=off): every F32 and 16-bit product through cblas_sgemm")
        }
        let library = BLASIdentity.current()
        guard library.dynamicArch else {
            return (false, "unavailable: OpenBLAS built without DYNAMIC_ARCH exports no per-core routines; cblas_sgemm")
        }
        // The kernel and copy routines are internal to OpenBLAS; their signatures have not changed since GotoBLAS, but
        // a series this code has not met could change them, and a wrong signature crashes rather than disagrees.
        guard library.version.hasPrefix("0.3.") else {
            return (false, "unavailable: OpenBLAS \(library.version) is not a 0.3 release, whose kernel interface this build knows; cblas_sgemm")
        }
        guard ir_psg_resolve(library.coreName) != 0 else {
            return (false, "unavailable: OpenBLAS exports no sgemm_kernel_\(library.coreName.uppercased()); cblas_sgemm")
        }
        guard selfCheck() else {
            return (false, "off: OpenBLAS's \(library.coreName) kernel on packed weights disagreed with cblas_sgemm; cblas_sgemm")
        }
        return (true, "F32 and bf16 weights packed at load for OpenBLAS's \(library.coreName) sgemm kernel")
    }()

    /// The check `isAvailable` runs; false at the first disagreement.
    static func selfCheck() -> Bool {
        var random = UInt64(0x9E37_79B9_7F4A_7C15)
        func next() -> Float {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: random >> 11) % 2001 - 1000) / 1000
        }
        // (weight rows, columns, x rows, outputs, accumulate)
        let cases: [(Int, Int, Int, Range<Int>, Bool)] = [
            (37, 300, 5, 0..<37, false), (64, 512, 33, 16..<48, true), (50, 7, 3, 3..<45, false),
            (16, 256, 1, 5..<6, true), (129, 513, 17, 100..<129, false), (40, 20, 9, 17..<30, true),
        ]
        for (n, k, m, outputs, accumulate) in cases {
            // bf16 cases: the values' low halves cleared, so each is exactly a bfloat16, as a BF16 checkpoint's are.
            for element in [TensorDType.f32, .bf16] {
                let w = (0..<(n * k)).map { _ in element == .f32 ? next() : Float(bitPattern: next().bitPattern & 0xFFFF_0000) }
                let x = (0..<(m * k)).map { _ in next() }
                let start = (0..<(m * outputs.count)).map { _ in next() }
                let matrix = w.withUnsafeBufferPointer {
                    BLASPackedMatrix(packing: $0.baseAddress!, rows: n, columns: k, element: element)
                }
                var back = [Float](repeating: .nan, count: outputs.count * k)
                matrix.dequantize(rows: outputs, into: &back)
                guard back == Array(w[(outputs.lowerBound * k)..<(outputs.upperBound * k)]) else { return false }
                let (packed, reference) = matrix.productBesideCBLAS(w, x: x, rows: m, outputs: outputs,
                                                                    accumulate: accumulate, start: start)
                for i in packed.indices where !(abs(packed[i] - reference[i]) <= 1e-4 * max(1, abs(reference[i]))) {
                    return false
                }
            }
        }
        return true
    }

    /// y = start (+)= x [rows, columns] · W[outputs]^T by this matrix, and by `cblas_sgemm` on `w`, the row-major
    /// matrix it was packed from: the two answers, [rows, outputs.count] each, for the self-check and the tests.
    func productBesideCBLAS(_ w: [Float], x: [Float], rows m: Int, outputs: Range<Int>, accumulate: Bool,
                            start: [Float]) -> (packed: [Float], cblas: [Float]) {
        var packed = start, reference = start
        x.withUnsafeBufferPointer { xs in
            product(values: UnsafeRawPointer(xs.baseAddress!), scales: [], rows: m, outputs: outputs,
                    into: &packed, ldy: outputs.count, accumulate: accumulate)
            w.withUnsafeBufferPointer { ws in
                GEMM.multiply(m: m, n: outputs.count, k: columns, a: xs.baseAddress!, lda: columns,
                              b: ws.baseAddress! + outputs.lowerBound * columns, ldb: columns, bTransposed: true,
                              c: &reference, ldc: outputs.count, beta: accumulate ? 1 : 0)
            }
        }
        return (packed, reference)
    }
}

/// How this process multiplies F32 and bf16 weight matrices (`BLASPackedMatrix`), for the layers above.
public enum WeightPacking {
    /// F32 and bf16 matrices multiplied only as y = x W^T are packed at load for OpenBLAS's own kernel.
    public static var isUsed: Bool { BLASPackedMatrix.isAvailable }
    /// The decision and its reason, one line.
    public static var description: String { BLASPackedMatrix.state.reason }
}
