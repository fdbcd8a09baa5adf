import T5

/// The BLAS kernels this process runs and why, for the start-up log, /info and
/// instructrec_build_info.
public struct KernelReport: Sendable {
    public var library: BLASIdentity
    public var cpu: CPUInfo
    /// why these kernels run (the decision's note or warning)
    public var decision: String

    public init(library: BLASIdentity, cpu: CPUInfo, decision: String) {
        self.library = library
        self.cpu = cpu
        self.decision = decision
    }

    /// The library and CPU of this process, without a decision.
    public static func current(decision: String = "not checked") -> KernelReport {
        KernelReport(library: .current(), cpu: .current(), decision: decision)
    }

    public var fields: [String: Any] {
        ["library": "OpenBLAS", "version": library.version, "config": library.config, "core_type": library.coreName,
         "openblas_coretype": library.coreTypeVariable ?? "(unset)", "decision": decision,
         "weight_packing": WeightPacking.description,
         "cpu": ["model": cpu.model, "vendor": cpu.vendor, "family": cpu.family ?? -1,
                 "vector_features": cpu.vectorFeatures] as [String: Any]]
    }
}
