import Foundation
@_spi(Benchmarks) import T5

/// How `Parallel.forEach` splits a request's products over the engine's threads: the calling thread's
/// `HelperTeam` (helpers spin briefly between products, kept off the caller's CPU), the same team left where the
/// kernel wakes it, and Dispatch's pool, on one workload, the three interleaved call by call, back to back and
/// with an idle pause before each call (a lone request arriving at an idle server, where a sleeping thread must
/// be woken).
enum HelperTeamBench {
    static func run(name: String, scorer: T5Scorer, input: ScoringInput, iterations: Int) throws {
        func time() throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try scorer.run(batch: [input])[0].get()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        defer { ParallelSplits.usesHelperTeams = true; ParallelSplits.keepsHelpersOffCallersCPU = true }
        func timed(teams: Bool, placed: Bool, pause: Double) throws -> Double {
            ParallelSplits.usesHelperTeams = teams
            ParallelSplits.keepsHelpersOffCallersCPU = placed
            if pause > 0 { Thread.sleep(forTimeInterval: pause) }
            return try time()
        }
        for pause in [0.0, 0.3] {
            var team: [Double] = [], unplaced: [Double] = [], dispatch: [Double] = []
            for round in 0..<(iterations + 2) {
                let a = try timed(teams: true, placed: true, pause: pause)
                let b = try timed(teams: true, placed: false, pause: pause)
                let c = try timed(teams: false, placed: true, pause: pause)
                if round >= 2 { team.append(a); unplaced.append(b); dispatch.append(c) }
            }
            print(String(format: "  threads split (%@, %@): helper team %.2f ms, helpers where the kernel wakes them "
                         + "%.2f ms (%.3fx), Dispatch pool %.2f ms (%.3fx)", name,
                         pause > 0 ? String(format: "%.1f s idle before each", pause) : "back to back",
                         median(team) * 1e3, median(unplaced) * 1e3, median(team) / median(unplaced),
                         median(dispatch) * 1e3, median(team) / median(dispatch)))
        }
    }
}
