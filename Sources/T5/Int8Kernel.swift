import CQuantized

/// Which int8 product runs (`weights_dtype: int8`), chosen at load from the CPU's features. Every
/// kernel computes the same exact int32 sums and shares one F32 epilogue, so they give the same
/// scores bit for bit; they differ in speed only.
public enum Int8Kernel: String, Sendable, CaseIterable {
    /// plain C loops: the reference the vector kernels are tested against, and what a CPU without
    /// AVX2 runs (at a fraction of F32's speed)
    case scalar
    /// AVX2: 16-bit pair products (|a| × w·sign a, never saturating with |a|, |w| ≤ 127), ~1.2× sgemm
    case avx2
    /// AVX-512 VNNI (vpdpbusd): 64 multiply-adds per instruction, ~3.5× sgemm on this project's machines
    case avx512VNNI = "avx512_vnni"

    /// The fastest kernel this CPU runs.
    public static var fastest: Int8Kernel { Int8Kernel(code: irq8_fastest_path()) }

    /// The kernels this CPU runs, the reference first.
    public static var available: [Int8Kernel] { allCases.filter(\.isAvailable) }

    public var isAvailable: Bool { irq8_path_available(code) != 0 }

    /// Whether this is the reference loop (a CPU with neither AVX2 nor VNNI): said at start-up, since int8
    /// then runs slower than F32.
    public var isReference: Bool { self == .scalar }

    var code: Int32 {
        switch self {
        case .scalar: return Int32(IRQ8_SCALAR)
        case .avx2: return Int32(IRQ8_AVX2)
        case .avx512VNNI: return Int32(IRQ8_AVX512_VNNI)
        }
    }

    init(code: Int32) {
        switch code {
        case Int32(IRQ8_AVX512_VNNI): self = .avx512VNNI
        case Int32(IRQ8_AVX2): self = .avx2
        default: self = .scalar
        }
    }
}
