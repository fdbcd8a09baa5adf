import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Which OpenBLAS this process runs and which kernels (core type) it chose,
/// as the library itself reports them (`openblas_get_config`, `openblas_get_corename`).
public struct BLASIdentity: Sendable, Equatable {
    /// e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64"
    public var config: String
    /// e.g. "Zen", "Prescott"
    public var coreName: String
    /// OPENBLAS_CORETYPE as this process saw it at start (nil when unset)
    public var coreTypeVariable: String?

    public init(config: String, coreName: String, coreTypeVariable: String?) {
        self.config = config
        self.coreName = coreName
        self.coreTypeVariable = coreTypeVariable
    }

    /// "0.3.21", from the config string
    public var version: String {
        let words = config.split(separator: " ")
        if let index = words.firstIndex(of: "OpenBLAS"), index + 1 < words.count { return String(words[index + 1]) }
        return "unknown"
    }

    /// Built with DYNAMIC_ARCH: the kernels are chosen at load time and OPENBLAS_CORETYPE can change them.
    public var dynamicArch: Bool { config.split(separator: " ").contains("DYNAMIC_ARCH") }

    /// "OpenBLAS (<config>), core type <name>" for start-up logs and error messages.
    public var description: String { "OpenBLAS (\(config)), core type \(coreName)" }

    /// The library loaded into this process.
    public static func current() -> BLASIdentity {
        let config = openblas_get_config().map { String(cString: $0) } ?? "unknown"
        let core = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        return BLASIdentity(config: config, coreName: core, coreTypeVariable: getenv("OPENBLAS_CORETYPE").map { String(cString: $0) })
    }
}
