import InstructRec
import Foundation

/// An interaction log in the format of the Amazon "Games" data used by the
/// InstructRec paper: `<name>.item` (item_id TAB title) and
/// `<name>-6k.test.inter` (user_id TAB history ids TAB last item id). A user's
/// full sequence is history + [last item]; its last item is the test target
/// and the one before it the validation target.
public struct InteractionDataset: Sendable {
    /// titles by item id, HTML entities decoded and a trailing ';' removed
    public let titles: [String]
    /// each user's chronological sequence, test target last
    public let sequences: [(user: String, items: [Int])]

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Loads `<directory>/<prefix>.item` and `<directory>/<prefix>-6k.test.inter`
    /// (or `<prefix>.test.inter`).
    public init(directory: URL, prefix: String = "Games") throws {
        let itemFile = directory.appendingPathComponent("\(prefix).item")
        let interNames = ["\(prefix)-6k.test.inter", "\(prefix).test.inter"]
        var missing: [String] = []
        if !FileManager.default.fileExists(atPath: itemFile.path) { missing.append(itemFile.lastPathComponent) }
        if !interNames.contains(where: { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path) }) {
            missing.append(interNames[0])
        }
        if !missing.isEmpty {
            throw Failure(description: "no dataset at \(directory.standardizedFileURL.path): missing \(missing.joined(separator: ", "))")
        }
        guard let itemText = try? String(contentsOf: itemFile, encoding: .utf8) else {
            throw Failure(description: "cannot read \(itemFile.path)")
        }
        var titles: [Int: String] = [:]
        for (number, line) in itemText.split(separator: "\n").enumerated() where number > 0 {
            let fields = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard fields.count == 2, let id = Int(fields[0]) else {
                throw Failure(description: "\(itemFile.path):\(number + 1): expected item_id<TAB>title")
            }
            var title = HTMLEntities.decode(String(fields[1])).trimmingCharacters(in: .whitespaces)
            if title.hasSuffix(";") { title.removeLast() }
            titles[id] = title
        }
        guard let maxID = titles.keys.max() else { throw Failure(description: "\(itemFile.path): no items") }
        self.titles = (0...maxID).map { titles[$0] ?? "" }
        let candidates = ["\(prefix)-6k.test.inter", "\(prefix).test.inter"].map { directory.appendingPathComponent($0) }
        guard let interFile = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }),
              let interText = try? String(contentsOf: interFile, encoding: .utf8)
        else {
            throw Failure(description: "cannot read \(candidates[0].path)")
        }
        var sequences: [(String, [Int])] = []
        for (number, line) in interText.split(separator: "\n").enumerated() where number > 0 {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3, let target = Int(fields[2]) else {
                throw Failure(description: "\(interFile.path):\(number + 1): expected user<TAB>history<TAB>item")
            }
            let history = fields[1].split(separator: " ").compactMap { Int($0) }
            let items = history + [target]
            guard items.allSatisfy({ $0 >= 0 && $0 <= maxID }) else {
                throw Failure(description: "\(interFile.path):\(number + 1): unknown item id")
            }
            sequences.append((String(fields[0]), items))
        }
        self.sequences = sequences
    }

    /// Interaction counts over the training part of every sequence (all but the last two items).
    public func trainingPopularity() -> [Int] {
        var counts = [Int](repeating: 0, count: titles.count)
        for (_, items) in sequences { for item in items.dropLast(2) { counts[item] += 1 } }
        return counts
    }
}
