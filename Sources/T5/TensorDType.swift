/// Element types a safetensors tensor may have; we load the float ones. BF16
/// and F16 matrices may stay 16-bit in memory (`WeightMatrix`) and are widened
/// to F32 here, a slice at a time, just before a product reads them.
enum TensorDType: String, Sendable {
    case f32 = "F32"
    case bf16 = "BF16"
    case f16 = "F16"

    var byteWidth: Int {
        switch self {
        case .f32: return 4
        case .bf16, .f16: return 2
        }
    }

    /// Converts `count` elements of this type at `source` (no alignment
    /// assumed: safetensors promises none) into F32 at `destination`.
    /// Every BF16 and F16 value is exactly representable in F32, so widening
    /// early or late gives the same numbers.
    func widen(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(destination)
        var i = 0
        switch self {
        case .f32:
            out.copyMemory(from: source, byteCount: count * 4)
            return
        case .bf16:
            // BF16 is the top half of an F32: shift the 16 bits into place, 8 lanes at a time.
            while i + 8 <= count {
                let half = source.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)
                let bits = SIMD8<UInt32>(truncatingIfNeeded: half) &<< 16
                out.storeBytes(of: unsafeBitCast(bits, to: SIMD8<Float>.self), toByteOffset: 4 * i, as: SIMD8<Float>.self)
                i += 8
            }
            while i < count {
                let bits = UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
                destination[i] = Float(bitPattern: bits)
                i += 1
            }
        case .f16:
            while i + 8 <= count {
                let half = source.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)
                out.storeBytes(of: SIMD8<Float>(half), toByteOffset: 4 * i, as: SIMD8<Float>.self)
                i += 8
            }
            while i < count {
                destination[i] = Float(source.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self))
                i += 1
            }
        }
    }
}
