import ArgumentParser
import Foundation
import HTTP
import Service
import T5
import T5Scoring
#if canImport(Glibc)
import Glibc
#endif

/// Start-up step of `serve`: log which OpenBLAS kernels run and act on
/// `BLASKernelDecision` — re-execute once with a better OPENBLAS_CORETYPE,
/// refuse an unknown one, or go on.
enum KernelSelection {
    /// Set on the re-executed process: the core type we chose (so an explicit
    /// variable is told apart from ours, and the re-exec happens at most once).
    static let chosenVariable = "INSTRUCTREC_BLAS_CHOSEN"
    /// Tests: decide as if OPENBLAS_CORETYPE were unset, so the end-to-end test can
    /// force generic kernels (OPENBLAS_CORETYPE=Prescott) on any CPU and watch the re-exec.
    static let simulateUnsetVariable = "INSTRUCTREC_BLAS_SIMULATE_UNSET"

    /// Returns the report to show; re-executes the process (does not return) or throws ExitCode(2).
    static func apply(log: JSONLog) throws -> KernelReport {
        let environment = ProcessInfo.processInfo.environment
        let cpu = CPUInfo.current()
        let library = BLASIdentity.current()
        let simulateUnset = environment[simulateUnsetVariable] == "1"
        let variable = simulateUnset ? nil : library.coreTypeVariable
        let chosenByUs = variable != nil && environment[chosenVariable] == variable
        let action = BLASKernelDecision.decide(cpu: cpu, library: library, variable: variable, chosenByUs: chosenByUs)
        var report = KernelReport(library: library, cpu: cpu, decision: "")
        switch action {
        case let .keep(note):
            report.decision = note
            log.info("blas kernels", report.fields)
        case let .warn(message):
            report.decision = message
            log.warning("blas kernels", report.fields)
        case let .refuse(message):
            report.decision = message
            log.error("blas kernels", report.fields)
            throw ExitCode(2)
        case let .reexec(coreType, reason):
            report.decision = "re-executing with OPENBLAS_CORETYPE=\(coreType): \(reason)"
            log.warning("blas kernels", report.fields)
            var next = environment
            next["OPENBLAS_CORETYPE"] = coreType
            next[chosenVariable] = coreType
            next[simulateUnsetVariable] = nil
            reexecute(environment: next, log: log)
            report.decision = "re-execution failed; running \(library.coreName): \(reason)"
        }
        return report
    }

    /// execve of this same binary with the same arguments; returns only if it fails.
    static func reexecute(environment: [String: String], log: JSONLog) {
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        let pairs = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        execve("/proc/self/exe", arguments, pairs)
        log.error("cannot re-execute to change BLAS kernels", ["errno": errno])
    }
}
