import Foundation

/// What the CPU offers, as far as choosing BLAS kernels goes: its model name,
/// vendor, family and the vector extensions the kernel reports in /proc/cpuinfo.
public struct CPUInfo: Sendable, Equatable {
    public var model: String
    public var vendor: String
    public var family: Int?
    /// the /proc/cpuinfo `flags` of the first processor
    public var flags: Set<String>

    public init(model: String, vendor: String, family: Int?, flags: Set<String>) {
        self.model = model
        self.vendor = vendor
        self.family = family
        self.flags = flags
    }

    /// The vector ISA levels OpenBLAS kernels are written for, lowest first.
    public enum VectorLevel: Int, Comparable, Sendable {
        case sse = 0, avx, avx2, avx512, avx512bf16
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    /// The highest level every instruction of which this CPU has (AVX2 counts with FMA only,
    /// AVX-512 needs the F/BW/VL/DQ/CD subsets SkylakeX kernels use).
    public var vectorLevel: VectorLevel {
        let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains)
        if avx512 && flags.contains("avx512_bf16") { return .avx512bf16 }
        if avx512 { return .avx512 }
        if flags.contains("avx2") && flags.contains("fma") { return .avx2 }
        if flags.contains("avx") { return .avx }
        return .sse
    }

    /// The vector features worth naming in logs and /info, in a stable order.
    public var vectorFeatures: [String] {
        ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512_bf16",
         "avx512_fp16", "amx_tile"].filter(flags.contains)
    }

    /// Parses /proc/cpuinfo text (the first processor block).
    public static func parse(procCPUInfo text: String) -> CPUInfo {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { if !fields.isEmpty { break } else { continue } }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return CPUInfo(model: fields["model name"] ?? "unknown", vendor: fields["vendor_id"] ?? "unknown",
                       family: fields["cpu family"].flatMap { Int($0) },
                       flags: Set((fields["flags"] ?? "").split(separator: " ").map(String.init)))
    }

    /// This machine's CPU (an empty feature set where /proc/cpuinfo is missing).
    public static func current() -> CPUInfo {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return parse(procCPUInfo: text)
    }
}
