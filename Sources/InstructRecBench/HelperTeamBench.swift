import Foundation
@_spi(Benchmarks) import T5

/// How `Parallel.forEach` splits a request's products over the engine's threads: the calling thread's
/// `HelperTeam` (helpers spin briefly between products) against Dispatch's pool, on one workload, the two
/// interleaved call by call, back to back and with an idle pause before each call (a lone request arriving at
/// an idle server, where a sleeping thread must be woken).
enum HelperTeamBench {
    static func run(name: String, scorer: T5Scorer, input: ScoringInput, iterations: Int) throws {
        func time() throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try scorer.run(batch: [input])[0].get()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        defer { ParallelSplits.usesHelperTeams = true }
        for pause in [0.0, 0.3] {
            var team: [Double] = [], dispatch: [Double] = []
            for round in 0..<(iterations + 2) {
                ParallelSplits.usesHelperTeams = true
                if pause > 0 { Thread.sleep(forTimeInterval: pause) }
                let a = try time()
                ParallelSplits.usesHelperTeams = false
                if pause > 0 { Thread.sleep(forTimeInterval: pause) }
                let b = try time()
                if round >= 2 { team.append(a); dispatch.append(b) }
            }
            print(String(format: "  threads split (%@, %@): helper team %.2f ms, Dispatch pool %.2f ms = %.3fx", name,
                         pause > 0 ? String(format: "%.1f s idle before each", pause) : "back to back",
                         median(team) * 1e3, median(dispatch) * 1e3, median(team) / median(dispatch)))
        }
    }
}
