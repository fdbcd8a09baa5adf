import Foundation
import Evaluation
import InstructRec
import T5
import Tokenizer

/// Real candidate lists for the bench: the 100-candidate pools that BM25 and
/// SASRec retrieved for 200 Games users (`Games.bm25`, `Games.sasrec`), as
/// title token ids. Random ids share no prefix past position 0; retriever
/// output does (franchises, editions, platforms), which is what the decoder's
/// prefix tree saves. The data set is not part of the project: when it is
/// absent the workload is skipped with a message.
struct GamesBenchWorkload {
    struct Pool {
        let user: String
        let candidates: [[Int32]]   // title tokens, truncated to maxTargetTokens, without </s>
    }
    let source: String              // "bm25" or "sasrec"
    let pools: [Pool]

    static let maxTargetTokens = 32  // models/default/instructrec.json

    /// Nil (with the reason printed) when the data or the tokenizer is missing.
    static func load(directory: String, tokenizerPath: String) -> [GamesBenchWorkload]? {
        let root = URL(fileURLWithPath: directory)
        let lists = ["sasrec", "bm25"].map { ($0, root.appendingPathComponent("Games.\($0)")) }
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("Games.item").path),
              lists.allSatisfy({ FileManager.default.fileExists(atPath: $0.1.path) })
        else {
            print("  games workload: skipped (no Games.item / Games.sasrec / Games.bm25 under \(directory); the data set is not committed, see --games-data)")
            return nil
        }
        guard FileManager.default.fileExists(atPath: tokenizerPath) else {
            print("  games workload: skipped (no tokenizer at \(tokenizerPath))")
            return nil
        }
        do {
            // Titles decoded exactly as the service and the trainer see them.
            let titles = try InteractionDataset(directory: root).titles
            let tokenizer = try Tokenizer(tokenizerJSON: URL(fileURLWithPath: tokenizerPath))
            var cache: [Int: [Int32]] = [:]
            return try lists.map { source, url in
                var pools: [Pool] = []
                for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
                    let fields = line.split(separator: "\t")
                    guard fields.count == 2 else { continue }
                    let ids = fields[1].split(separator: " ").compactMap { Int($0) }.filter { $0 >= 0 && $0 < titles.count }
                    let candidates = ids.map { id -> [Int32] in
                        if let known = cache[id] { return known }
                        let tokens = Array(tokenizer.encode(titles[id], addEOS: false).prefix(maxTargetTokens))
                        cache[id] = tokens
                        return tokens
                    }
                    pools.append(Pool(user: String(fields[0]), candidates: candidates))
                }
                return GamesBenchWorkload(source: source, pools: pools)
            }
        } catch {
            print("  games workload: skipped (\(error))")
            return nil
        }
    }

    /// Decoder rows with and without the prefix tree over every pool, using the first `count` candidates.
    func rowsReport(count: Int) -> String {
        var unshared = 0, shared = 0, rootOnly = 0
        for pool in pools {
            let candidates = Array(pool.candidates.prefix(count))
            let sharing = DecoderSharing(candidates: candidates)
            unshared += sharing.unsharedRows
            shared += sharing.sharedRows
            rootOnly += sharing.unsharedRows - max(candidates.count - 1, 0)
        }
        return String(format: "%@ top-%d, %d users: decoder rows %d shared vs %d unshared (candidates × (tokens+1)): %.1f%% saved (position 0 alone: %.1f%%)",
                      source, count, pools.count, shared, unshared, 100 * (1 - Double(shared) / Double(max(unshared, 1))),
                      100 * (1 - Double(rootOnly) / Double(max(unshared, 1))))
    }
}
