import XCTest
@testable import T5

/// The kernel decision as a pure function of (CPU, library core name, OPENBLAS_CORETYPE).
final class BLASKernelDecisionTests: XCTestCase {
    let zen3 = CPUInfo(model: "AMD EPYC 7B13", vendor: "AuthenticAMD", family: 25, flags: ["sse4_2", "avx", "avx2", "fma"])
    let zen5 = CPUInfo(model: "AMD EPYC 9B45", vendor: "AuthenticAMD", family: 26,
                       flags: ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512_bf16"])
    let skylake = CPUInfo(model: "Intel Xeon Platinum 8175M", vendor: "GenuineIntel", family: 6,
                          flags: ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"])
    let old = CPUInfo(model: "Intel Core 2", vendor: "GenuineIntel", family: 6, flags: ["sse4_1"])

    func library(_ core: String, _ variable: String? = nil, dynamic: Bool = true) -> BLASIdentity {
        BLASIdentity(config: "OpenBLAS 0.3.21 NO_LAPACKE \(dynamic ? "DYNAMIC_ARCH " : "")NO_AFFINITY \(core) MAX_THREADS=64",
                     coreName: core, coreTypeVariable: variable)
    }

    func testGenericFallbackOnAVX512IsReexecutedWithTheBestCore() {
        // The family-26 machine: 0.3.21 did not know it and ran Prescott.
        guard case let .reexec(core, reason) = BLASKernelDecision.decide(cpu: zen5, library: library("Prescott"), variable: nil) else {
            return XCTFail("expected a re-exec")
        }
        XCTAssertEqual(core, "Cooperlake")
        XCTAssertTrue(reason.contains("Prescott") && reason.contains("family 26"), reason)
        XCTAssertEqual(BLASKernelDecision.decide(cpu: skylake, library: library("Nehalem"), variable: nil),
                       .reexec(coreType: "SkylakeX", reason: "OpenBLAS 0.3.21 fell back to generic Nehalem kernels on a CPU with AVX-512 (Intel Xeon Platinum 8175M, family 6); SkylakeX is the best core type it has"))
        if case let .reexec(core, _) = BLASKernelDecision.decide(cpu: zen3, library: library("Sandybridge"), variable: nil) {
            XCTAssertEqual(core, "Zen")
        } else { XCTFail() }
    }

    func testOlderLibrariesGetOnlyCoresTheyKnow() {
        var lib = library("Prescott")
        lib.config = "OpenBLAS 0.3.9 DYNAMIC_ARCH Prescott"
        XCTAssertEqual(BLASKernelDecision.bestCoreType(for: zen5, version: lib.version), "SkylakeX")
        XCTAssertEqual(BLASKernelDecision.bestCoreType(for: zen5, version: "0.3.21"), "Cooperlake")
        XCTAssertNil(BLASKernelDecision.bestCoreType(for: old, version: "0.3.21"))
    }

    func testALibraryChoiceThatFitsIsKept() {
        XCTAssertEqual(BLASKernelDecision.decide(cpu: zen3, library: library("Zen"), variable: nil), .keep(note: "chosen by the library"))
        XCTAssertEqual(BLASKernelDecision.decide(cpu: zen5, library: library("Cooperlake"), variable: nil), .keep(note: "chosen by the library"))
        // nothing better to run on an SSE-only CPU
        XCTAssertEqual(BLASKernelDecision.decide(cpu: old, library: library("Core2"), variable: nil), .keep(note: "chosen by the library"))
    }

    func testAnExplicitVariableIsRespectedWithAWarningWhenItIsSlow() {
        XCTAssertEqual(BLASKernelDecision.decide(cpu: zen3, library: library("Haswell", "haswell"), variable: "haswell"),
                       .keep(note: "set by OPENBLAS_CORETYPE"))
        guard case let .warn(message) = BLASKernelDecision.decide(cpu: zen3, library: library("Prescott", "Prescott"), variable: "Prescott") else {
            return XCTFail("expected a warning")
        }
        XCTAssertTrue(message.contains("Prescott") && message.contains("Zen"), message)
    }

    func testUnknownOrUnrunnableValuesAreStartupErrors() {
        guard case let .refuse(message) = BLASKernelDecision.decide(cpu: zen3, library: library("Haswell", "Bogus"), variable: "Bogus") else {
            return XCTFail("expected a refusal")
        }
        XCTAssertTrue(message.contains("Bogus") && message.contains("Haswell"), message)
        // 0.3.21 has no SapphireRapids
        if case .refuse = BLASKernelDecision.decide(cpu: zen5, library: library("Haswell", "SapphireRapids"), variable: "SapphireRapids") {} else { XCTFail() }
        // AVX-512 kernels on an AVX2 CPU would die with SIGILL
        guard case let .refuse(sigill) = BLASKernelDecision.decide(cpu: zen3, library: library("SkylakeX", "SkylakeX"), variable: "SkylakeX") else {
            return XCTFail("expected a refusal")
        }
        XCTAssertTrue(sigill.contains("AVX-512"), sigill)
    }

    func testOurOwnChoiceIsNotReexecutedAgain() {
        if case .keep = BLASKernelDecision.decide(cpu: zen3, library: library("Zen", "Zen"), variable: "Zen", chosenByUs: true) {} else { XCTFail() }
        // a build without DYNAMIC_ARCH cannot change: warn, never loop
        if case .warn = BLASKernelDecision.decide(cpu: zen3, library: library("Prescott", dynamic: false), variable: nil) {} else { XCTFail() }
        if case .warn = BLASKernelDecision.decide(cpu: zen3, library: library("Haswell", "Zen"), variable: "Zen", chosenByUs: true) {} else { XCTFail() }
    }

    func testCPUInfoAndLibraryIdentityParsing() {
        let text = """
        processor\t: 0
        vendor_id\t: AuthenticAMD
        cpu family\t: 25
        model name\t: AMD EPYC 7B13
        flags\t\t: fpu sse4_2 avx fma avx2 bmi2

        processor\t: 1
        vendor_id\t: Other
        """
        let cpu = CPUInfo.parse(procCPUInfo: text)
        XCTAssertEqual(cpu.vendor, "AuthenticAMD")
        XCTAssertEqual(cpu.family, 25)
        XCTAssertEqual(cpu.model, "AMD EPYC 7B13")
        XCTAssertEqual(cpu.vectorLevel, .avx2)
        XCTAssertEqual(cpu.vectorFeatures, ["sse4_2", "avx", "avx2", "fma"])
        XCTAssertEqual(library("Zen").version, "0.3.21")
        XCTAssertTrue(library("Zen").dynamicArch)
        XCTAssertFalse(library("Zen", dynamic: false).dynamicArch)
        XCTAssertFalse(BLASIdentity.current().coreName.isEmpty)
    }
}
