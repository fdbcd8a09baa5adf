/// A row-major F32 buffer that owns its memory: activations, scratch, and
/// the small weights (norms, relative position biases). Weight matrices are
/// `WeightMatrix`s. The shape is carried for checks and for shape comments to
/// point at, the arithmetic works on the raw pointer.
final class Tensor: @unchecked Sendable {
    let shape: [Int]
    let count: Int
    let data: UnsafeMutablePointer<Float>

    init(shape: [Int], zeroed: Bool = true) {
        self.shape = shape
        count = shape.reduce(1, *)
        // 64-byte alignment keeps the AVX-512 loads in OpenBLAS and in our
        // SIMD loops on one cache line each.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        data = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { data.initialize(repeating: 0, count: max(count, 1)) }
    }

    deinit { UnsafeMutableRawPointer(data).deallocate() }

    /// rows x columns for a 2-D tensor
    var rows: Int { shape.first ?? 1 }
    var columns: Int { shape.count >= 2 ? shape[1] : count }

    subscript(index: Int) -> Float {
        get { data[index] }
        set { data[index] = newValue }
    }
}
