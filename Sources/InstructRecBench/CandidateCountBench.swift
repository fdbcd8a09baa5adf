import ArgumentParser
import Configuration
import Dispatch
import Foundation
import HTTP
import Service

/// `instructrec-bench candidates`: one /recommend request of 1,000 candidates against one of
/// 100, on a model with its own settings (the default model: calibrated, candidate-free),
/// through the service's whole in-process path (JSON decoding, planning, scoring, ranking,
/// encoding; `RerankService.scoreDirectly`), rounds interleaved so drift hits both sizes.
/// Two prior-cache states: warm (the titles' priors already cached, as for a catalog the
/// service has seen or warmed with prior_catalog) and cold (titles never seen: every prior
/// is computed in the request's own engine call).
struct CandidateCountBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "candidates",
        abstract: "p50 of a 1,000-candidate /recommend against a 100-candidate one (default model, its own settings).")

    @Option(help: "Model directory (its instructrec.json and templates.json apply).") var model = "models/default"
    @Option(help: "Candidate counts, comma-separated; the first is the baseline.") var counts = "100,1000"
    @Option(help: "Rounds per count and cache state.") var rounds = 11
    @Option(help: "Engine threads.") var threads = 2

    func run() throws {
        let sizes = counts.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard let baseline = sizes.first, sizes.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--counts: positive integers") }
        JSONLog.shared.enabled = false
        var configuration = try ServiceConfiguration.load(file: nil, environment: [:],
                                                          overrides: ["model": model, "max_candidates": String(sizes.max() ?? 1000)])
        configuration.threadsPerWorker = threads
        let service = try RerankService(configuration: configuration)
        defer { service.stop() }
        print("candidates bench: \(model), scoring \(configuration.scoringMode.rawValue) (α \(configuration.priorWeight)), "
              + "form \(configuration.instructionForm.rawValue), \(threads) threads, \(rounds) rounds interleaved")
        let history = (0..<10).map { "\"\(Self.title($0 * 7 + 3, salt: "h"))\"" }.joined(separator: ", ")
        func body(_ count: Int, salt: String) -> [UInt8] {
            let candidates = (0..<count).map { "{\"id\": \"c\($0)\", \"title\": \"\(Self.title($0, salt: salt))\"}" }.joined(separator: ", ")
            return Array("{\"history\": [\(history)], \"candidates\": [\(candidates)], \"top_n\": 10}".utf8)
        }
        var seconds: [String: [Double]] = [:]
        for round in 0..<(rounds + 1) {
            for count in sizes {
                for cache in ["warm", "cold"] {
                    // warm: the same titles every round (cached after round 0); cold: titles no round used before
                    let request = body(count, salt: cache == "warm" ? "w" : "r\(round)")
                    let start = DispatchTime.now().uptimeNanoseconds
                    let (status, json) = service.scoreDirectly(endpoint: "recommend", body: request)
                    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    guard status == 200 else { throw BenchFailure(message: "status \(status): \(String(decoding: json, as: UTF8.self))") }
                    if round > 0 { seconds["\(count) \(cache)", default: []].append(elapsed) }   // round 0 warms up
                }
            }
        }
        for cache in ["warm", "cold"] {
            let base = median(seconds["\(baseline) \(cache)"] ?? [])
            for count in sizes {
                let values = seconds["\(count) \(cache)"] ?? []
                print(String(format: "  %5d candidates, %@ prior cache: p50 %8.1f ms  p90 %8.1f ms  (%.2fx the %d-candidate request)",
                             count, cache, median(values) * 1e3, percentile(values, 0.9) * 1e3, median(values) / base, baseline))
            }
        }
    }

    /// A store-style game title, distinct per index and salt.
    static func title(_ index: Int, salt: String) -> String {
        let franchises = ["Halo", "Mario Kart", "The Legend of Zelda", "FIFA", "Madden NFL", "Call of Duty", "Pokemon", "Dark Souls",
                          "Forza Horizon", "Tetris Effect", "Final Fantasy", "Assassin's Creed", "Street Fighter", "Gran Turismo",
                          "Resident Evil", "Metal Gear Solid", "Kingdom Hearts", "Battlefield", "Need for Speed", "Tomb Raider"]
        let platforms = ["", " - PlayStation 4", " - Nintendo Switch", " - Xbox One", " (PC)", " Deluxe Edition - PS4", " - Wii U"]
        let number = index / franchises.count + 2
        return "\(franchises[index % franchises.count]) \(number)\(salt == "w" || salt == "h" ? "" : " \(salt)")\(platforms[(index / 3) % platforms.count])"
    }
}
