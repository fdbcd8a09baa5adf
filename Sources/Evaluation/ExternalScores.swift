import InstructRec
import Foundation

/// Scores from a baseline run outside this binary, read from JSON Lines: one
/// object a line with `user_index` and `scores` (aligned with the case's
/// candidates in presentation order), optionally `user` and `candidates`,
/// which are checked against the case when present. Ranked by
/// `Evaluator.rank`, so ties count against the target as for every row.
public struct ExternalScores: Sendable {
    public let name: String
    public let file: String
    let records: [Int: Record]

    struct Record: Decodable, Sendable {
        var userIndex: Int
        var user: String?
        var candidates: [Int]?
        var scores: [Double]
        enum CodingKeys: String, CodingKey {
            case user, candidates, scores
            case userIndex = "user_index"
        }
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public init(name: String, file: String, data: Data) throws {
        self.name = name
        self.file = file
        var records: [Int: Record] = [:]
        let decoder = JSONDecoder()
        for (number, line) in data.split(separator: 0x0A).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let record: Record
            do { record = try decoder.decode(Record.self, from: Data(line)) } catch {
                throw Failure(description: "\(file):\(number + 1): expected {\"user_index\": n, \"scores\": [...]}: \(error)")
            }
            guard records[record.userIndex] == nil else {
                throw Failure(description: "\(file):\(number + 1): user_index \(record.userIndex) appears twice")
            }
            records[record.userIndex] = record
        }
        self.records = records
    }

    public init(name: String, contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "cannot read \(path)") }
        try self.init(name: name, file: path, data: data)
    }

    /// The scores for `c`, aligned with `c.candidates`; fails when the case is missing or does not match.
    public func scores(for c: Evaluator.Case) throws -> [Double] {
        guard let record = records[c.userIndex] else {
            throw Failure(description: "\(name): \(file) has no scores for user_index \(c.userIndex) (user \(c.user)); "
                          + "were they made from this run's --dump-cases (same split, users, seed, candidates)?")
        }
        if let user = record.user, user != c.user {
            throw Failure(description: "\(name): \(file): user_index \(c.userIndex) is user \(user) there, \(c.user) here")
        }
        if let candidates = record.candidates, candidates != c.candidates {
            throw Failure(description: "\(name): \(file): user_index \(c.userIndex) has other candidates (or another order) than this run's")
        }
        guard record.scores.count == c.candidates.count else {
            throw Failure(description: "\(name): \(file): user_index \(c.userIndex) has \(record.scores.count) scores for \(c.candidates.count) candidates")
        }
        return record.scores
    }

    /// Rank of the case's target under these scores.
    public func rank(_ c: Evaluator.Case) throws -> Int? {
        Evaluator.rank(of: c.target, candidates: c.candidates, scores: try scores(for: c))
    }
}
