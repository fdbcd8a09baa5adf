/// Whether the OpenBLAS kernels this process runs are the ones it should run,
/// decided from (CPU features, the library's core name, OPENBLAS_CORETYPE):
/// a pure function, so every case is a unit test.
///
/// OpenBLAS reads OPENBLAS_CORETYPE once, when the library initialises, so
/// a better choice can only take effect in a new process: `.reexec` asks the
/// caller to execute itself again with the variable set.
public enum BLASKernelDecision {
    public enum Action: Equatable, Sendable {
        /// nothing to do; `note` says why these kernels run
        case keep(note: String)
        /// run, but log this
        case warn(String)
        /// execute the process again with OPENBLAS_CORETYPE=coreType
        case reexec(coreType: String, reason: String)
        /// a start-up error
        case refuse(String)
    }

    /// An x86-64 core type of OpenBLAS's DYNAMIC_ARCH builds: the vector level its
    /// kernels need, and the release that added it.
    struct CoreType {
        let name: String
        let level: CPUInfo.VectorLevel
        let since: [Int]
    }

    static let coreTypes: [CoreType] = {
        let sse = ["Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn", "Dunnington",
                   "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Nano", "Bobcat"]
        return sse.map { CoreType(name: $0, level: .sse, since: [0]) } + [
            CoreType(name: "Sandybridge", level: .avx, since: [0]),
            CoreType(name: "Bulldozer", level: .avx, since: [0]),
            CoreType(name: "Piledriver", level: .avx, since: [0]),
            CoreType(name: "Steamroller", level: .avx, since: [0]),
            CoreType(name: "Haswell", level: .avx2, since: [0]),
            CoreType(name: "Excavator", level: .avx2, since: [0]),
            CoreType(name: "Zen", level: .avx2, since: [0, 2, 20]),
            CoreType(name: "SkylakeX", level: .avx512, since: [0, 3, 0]),
            CoreType(name: "Cooperlake", level: .avx512bf16, since: [0, 3, 10]),
            CoreType(name: "SapphireRapids", level: .avx512bf16, since: [0, 3, 22]),
        ]
    }()

    /// Core types this library version knows (case-insensitive, as OpenBLAS matches them).
    static func known(_ name: String, version: String) -> CoreType? {
        let lowered = name.lowercased()
        return coreTypes.first { $0.name.lowercased() == lowered && supports($0, version: version) }
    }

    static func supports(_ core: CoreType, version: String) -> Bool {
        let parts = version.split(separator: ".").map { Int($0) ?? 0 }
        guard !parts.isEmpty, version != "unknown" else { return true }
        for (a, b) in zip(parts + Array(repeating: 0, count: 3), core.since + Array(repeating: 0, count: 3)).prefix(3) where a != b {
            return a > b
        }
        return true
    }

    /// The best core type this library has for this CPU (nil below AVX2: nothing to gain).
    public static func bestCoreType(for cpu: CPUInfo, version: String) -> String? {
        let candidates: [String]
        switch cpu.vectorLevel {
        case .avx512bf16: candidates = ["Cooperlake", "SkylakeX", "Haswell"]
        case .avx512: candidates = ["SkylakeX", "Haswell"]
        case .avx2: candidates = cpu.vendor == "AuthenticAMD" ? ["Zen", "Haswell"] : ["Haswell"]
        case .avx, .sse: return nil
        }
        return candidates.first { known($0, version: version) != nil }
    }

    /// - Parameters:
    ///   - variable: OPENBLAS_CORETYPE (nil or empty: unset)
    ///   - chosenByUs: the variable was set by an earlier `.reexec` of this process
    public static func decide(cpu: CPUInfo, library: BLASIdentity, variable: String?, chosenByUs: Bool = false) -> Action {
        let running = library.coreName
        let runningType = known(running, version: library.version)
        if let variable, !variable.isEmpty {
            guard let requested = known(variable, version: library.version) else {
                let names = coreTypes.filter { supports($0, version: library.version) }.map(\.name).joined(separator: ", ")
                return .refuse("OPENBLAS_CORETYPE=\(variable) is not a core type OpenBLAS \(library.version) knows (it would silently use \(running)); use one of: \(names), or unset it")
            }
            if requested.level > cpu.vectorLevel {
                return .refuse("OPENBLAS_CORETYPE=\(variable) needs \(describe(requested.level)), which this CPU (\(cpu.model)) lacks: its kernels would crash or be replaced; use \(bestCoreType(for: cpu, version: library.version) ?? "Prescott") or unset it")
            }
            if requested.name.lowercased() != running.lowercased() {
                let why = library.dynamicArch ? "the library chose \(running) instead" : "this OpenBLAS was built without DYNAMIC_ARCH and always runs \(running)"
                return .warn("OPENBLAS_CORETYPE=\(variable) is not in effect: \(why)")
            }
            if chosenByUs {
                return .keep(note: "OPENBLAS_CORETYPE=\(requested.name) set by instructrec: the library had fallen back to generic kernels on a CPU with \(describe(cpu.vectorLevel))")
            }
            if requested.level < .avx2, let best = bestCoreType(for: cpu, version: library.version) {
                return .warn("OPENBLAS_CORETYPE=\(variable) runs generic \(describe(requested.level)) kernels on a CPU with \(describe(cpu.vectorLevel)); unset it (or set \(best)) for several times faster scoring")
            }
            return .keep(note: "set by OPENBLAS_CORETYPE")
        }
        guard let runningType else { return .keep(note: "chosen by the library (core type \(running) is not one instructrec ranks)") }
        if runningType.level < .avx2, let best = bestCoreType(for: cpu, version: library.version) {
            guard library.dynamicArch else {
                return .warn("this OpenBLAS was built for \(running) only (no DYNAMIC_ARCH) and runs generic kernels on a CPU with \(describe(cpu.vectorLevel)); install a DYNAMIC_ARCH build")
            }
            if chosenByUs { return .warn("the library still runs \(running) after re-executing with OPENBLAS_CORETYPE=\(best)") }
            return .reexec(coreType: best, reason: "OpenBLAS \(library.version) fell back to generic \(running) kernels on a CPU with \(describe(cpu.vectorLevel)) (\(cpu.model), family \(cpu.family.map(String.init) ?? "?")); \(best) is the best core type it has")
        }
        return .keep(note: "chosen by the library")
    }

    static func describe(_ level: CPUInfo.VectorLevel) -> String {
        switch level {
        case .sse: return "SSE only"
        case .avx: return "AVX (no AVX2/FMA)"
        case .avx2: return "AVX2/FMA"
        case .avx512: return "AVX-512"
        case .avx512bf16: return "AVX-512 with BF16"
        }
    }
}
