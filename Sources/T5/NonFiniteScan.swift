/// Finds a NaN or an infinity among a tensor's values as the checkpoint stores them, so that a corrupt
/// checkpoint is refused at load, naming the tensor, rather than answering NaN scores (which JSON cannot even
/// carry) to every request. IEEE formats put NaN and infinity at the top of the magnitude range: with the
/// sign bit cleared, a value is non-finite exactly when its bits reach the all-ones exponent, so one
/// vectorisable max over the magnitudes decides, and only a hit is searched element by element.
enum NonFiniteScan {
    /// The index of the first non-finite value of `count` values of `dtype` at `values`, or nil.
    static func firstNonFinite(_ values: UnsafeRawPointer, count: Int, dtype: TensorDType) -> Int? {
        switch dtype {
        case .f32:
            return first(values.assumingMemoryBound(to: UInt32.self), count: count, magnitude: 0x7FFF_FFFF, infinity: 0x7F80_0000)
        case .bf16:
            return first(values.assumingMemoryBound(to: UInt16.self), count: count, magnitude: 0x7FFF, infinity: 0x7F80)
        case .f16:
            return first(values.assumingMemoryBound(to: UInt16.self), count: count, magnitude: 0x7FFF, infinity: 0x7C00)
        }
    }

    private static func first<Bits: FixedWidthInteger & UnsignedInteger>(_ bits: UnsafePointer<Bits>, count: Int,
                                                                         magnitude: Bits, infinity: Bits) -> Int? {
        var largest: Bits = 0
        for i in 0..<count { largest = max(largest, bits[i] & magnitude) }
        guard largest >= infinity else { return nil }
        return (0..<count).first { bits[$0] & magnitude >= infinity }
    }
}
