import ArgumentParser
import Foundation
import Evaluation
import InstructRec

/// `instructrec instructions`: interaction log -> instruction-tuning JSONL.
struct InstructionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instructions",
        abstract: "Turn an interaction dataset into instruction-tuning JSONL (instruction, target, template).")

    @Option(help: "Dataset directory (Games.item, Games-6k.test.inter; default: ../shared/data/games from the repository root, found from any directory).") var data: String?
    @Option(help: "Dataset file prefix.") var prefix = "Games"
    @Option(help: "Templates file (the same the service uses; default: config/templates.json, found from any directory).") var templates: String?
    @Option(help: "Output JSONL file.") var output = "out/instructions.jsonl"
    @Option(help: "Most recent history items per example.") var maxHistory = 10
    @Option(help: "Candidates per T3 example.") var candidates = 10
    @Option(help: "At most this many examples per user, most recent positions first (0: all).") var perUser = 0
    @Option(help: "Use only the first N users (0: all).") var users = 0
    @Option(help: "Random seed for template choice and negatives.") var seed: UInt64 = 20230507
    @Option(help: "Also write the dataset as the service reads it (decoded titles, sequences) to this JSON file, for scripts/train/train.py, and stop.")
    var datasetOutput: String?

    func run() throws {
        let dataset = try DatasetLocation.load(data: data, prefix: prefix)
        if let datasetOutput {
            try writeDataset(dataset, to: datasetOutput)
            return
        }
        var options = InstructionDataGenerator.Options()
        options.maxHistory = maxHistory
        options.candidates = candidates
        options.seed = seed
        options.maxExamplesPerUser = perUser
        let generator = try InstructionDataGenerator(
            dataset: dataset, templates: try TemplateSet(contentsOf: URL(fileURLWithPath: try templatesFile())), options: options)
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: output).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: output, contents: nil),
              let handle = FileHandle(forWritingAtPath: output) else { throw ValidationError("cannot write \(output)") }
        defer { try? handle.close() }
        let count = users > 0 ? min(users, dataset.sequences.count) : dataset.sequences.count
        var progress = ProgressBar(total: count, label: "users")
        var written = 0
        var perTemplate: [String: Int] = [:]
        var buffer = Data()
        for index in 0..<count {
            for example in generator.examples(forUserAt: index) {
                let object: [String: Any] = ["user": example.user, "template": example.template, "task": example.task,
                                             "instruction": example.instruction, "target": example.target, "item_ids": example.itemIDs]
                buffer.append(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
                buffer.append(0x0A)
                written += 1
                perTemplate[example.template, default: 0] += 1
            }
            if buffer.count > 1 << 20 { handle.write(buffer); buffer.removeAll(keepingCapacity: true) }
            progress.update(index + 1)
        }
        handle.write(buffer)
        progress.finish()
        print("wrote \(written) examples for \(count) users to \(output)")
        for (template, n) in perTemplate.sorted(by: { $0.key < $1.key }) { print("  \(template): \(n)") }
    }
}

extension InstructionsCommand {
    /// `{"titles": [...], "users": [...], "sequences": [[ids], ...]}`: titles decoded exactly as the
    /// service and the evaluator see them, so the training script never re-implements the decoding.
    /// --templates as given, else config/templates.json found the way `serve` finds it.
    func templatesFile() throws -> String {
        if let templates { return templates }
        let name = "config/templates.json"
        let bases = ConfigurationLocation.baseDirectories(configFile: try ConfigurationLocation.configFile(explicit: nil))
        return ConfigurationLocation.locate(name, bases: bases) ?? name
    }

    func writeDataset(_ dataset: InteractionDataset, to path: String) throws {
        let object: [String: Any] = ["titles": dataset.titles, "users": dataset.sequences.map(\.user),
                                     "sequences": dataset.sequences.map(\.items)]
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]).write(to: URL(fileURLWithPath: path))
        print("wrote \(dataset.titles.count) titles and \(dataset.sequences.count) sequences to \(path)")
    }
}

/// A one-line progress bar with throughput on standard error.
struct ProgressBar {
    let total: Int
    let label: String
    let start = DispatchTime.now().uptimeNanoseconds
    private var lastDraw: UInt64 = 0

    init(total: Int, label: String) {
        self.total = total
        self.label = label
    }

    mutating func update(_ done: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastDraw > 200_000_000 || done == total else { return }
        lastDraw = now
        let seconds = Double(now - start) / 1e9
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let filled = Int(fraction * 30)
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
        FileHandle.standardError.write(Data(String(format: "\r[%@] %d/%d %@  %.1f %@/s  eta %.0fs ", bar, done, total, label, rate, label, eta).utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}
