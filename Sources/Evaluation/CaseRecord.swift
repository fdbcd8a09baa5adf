import InstructRec
import Foundation

/// One evaluation case as `instructrec eval --dump-cases` writes it, one JSON
/// object per line, for baselines that run outside this binary (e.g.
/// scripts/baselines/sasrec.py): `sequence` is everything before the target
/// (`items[..<cut]`: a sequential model's input), `history` the part the
/// instruction shows, `candidates` in presentation order. `cold` (written only
/// when not empty: the target, with --rewrite-titles) lists the items an id-based
/// baseline must treat as never seen, i.e. score lowest.
public struct CaseRecord: Codable, Equatable, Sendable {
    public var user: String
    public var userIndex: Int
    public var split: String
    public var sequence: [Int]
    public var history: [Int]
    public var target: Int
    public var candidates: [Int]
    public var cold: [Int]?

    enum CodingKeys: String, CodingKey {
        case user, split, sequence, history, target, candidates, cold
        case userIndex = "user_index"
    }

    public init(_ c: Evaluator.Case, split: Evaluator.Split) {
        user = c.user
        userIndex = c.userIndex
        self.split = split.rawValue
        sequence = c.sequence
        history = c.history
        target = c.target
        candidates = c.candidates
        cold = c.cold.isEmpty ? nil : c.cold
    }

    /// JSON Lines, one case a line, in the order given.
    public static func jsonLines(_ cases: [Evaluator.Case], split: Evaluator.Split) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data()
        for c in cases {
            data.append(try encoder.encode(CaseRecord(c, split: split)))
            data.append(0x0A)
        }
        return data
    }
}
