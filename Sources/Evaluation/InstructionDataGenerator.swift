import InstructRec
import Foundation
import Randomness

/// One instruction-tuning example.
public struct InstructionExample: Sendable {
    public var user: String
    public var template: String
    /// InstructRec task form: T0 pointwise, T2 generation, T3 rerank (or "reverse" for the turned-around tasks)
    public var task: String
    public var instruction: String
    public var target: String
    /// every item id the example shows the model (history, candidates, item, target), for leakage audits
    public var itemIDs: [Int]
}

/// Turns an interaction log into instruction-tuning data with the same
/// templates and rendering code the service uses.
///
/// For each user, examples are made only at positions before the last two
/// items: those are the validation and test targets and never appear in
/// training data, not even as history or negatives. Negatives are items the
/// user never touched, sampled with a fixed seed.
public struct InstructionDataGenerator: Sendable {
    public struct Options: Sendable {
        /// most recent history items shown
        public var maxHistory = 10
        /// candidates in a T3 example (the target plus negatives)
        public var candidates = 10
        public var seed: UInt64 = 20230507
        /// at most this many examples per user (most recent positions first); 0 = all
        public var maxExamplesPerUser = 0
        public init() {}
    }

    /// Template names and how often each is drawn.
    public static let mix: [(template: String, task: String, weight: Double)] = [
        ("recommend.history", "T3", 0.34), ("generate.history", "T2", 0.16), ("pointwise.history", "T0", 0.10),
        ("search.history.specific", "T3", 0.10), ("search.specific", "T3", 0.08), ("generate.search.specific", "T2", 0.07),
        ("pointwise.query", "T0", 0.05), ("infer.query", "reverse", 0.10),
    ]

    public let dataset: InteractionDataset
    public let templates: TemplateSet
    public let options: Options
    /// the templates of `mix`, resolved once
    private let resolved: [String: Template]

    public init(dataset: InteractionDataset, templates: TemplateSet, options: Options = Options()) throws {
        self.dataset = dataset
        self.templates = templates
        self.options = options
        var resolved: [String: Template] = [:]
        for entry in Self.mix {
            guard let template = templates.templates[entry.template] else {
                throw InstructRecError.unknownTemplate(name: entry.template, known: templates.templates.keys.sorted())
            }
            resolved[entry.template] = template
        }
        self.resolved = resolved
    }

    /// Examples for user number `index`, deterministic for a given seed.
    public func examples(forUserAt index: Int) -> [InstructionExample] {
        let (user, items) = dataset.sequences[index]
        guard items.count >= 4 else { return [] }
        var rng = SeededGenerator(seed: options.seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
        let touched = Set(items)
        // Training targets: positions 1 ... count-3 (the last two are validation and test).
        var positions = Array(1...(items.count - 3))
        if options.maxExamplesPerUser > 0 { positions = Array(positions.suffix(options.maxExamplesPerUser)) }
        return positions.map { position in
            let target = items[position]
            let history = Array(items[max(0, position - options.maxHistory)..<position])
            let entry = pick(&rng)
            return make(entry, user: user, target: target, history: history, touched: touched, rng: &rng)
        }
    }

    private func pick(_ rng: inout SeededGenerator) -> (template: String, task: String, weight: Double) {
        var roll = Double.random(in: 0..<1, using: &rng) * Self.mix.reduce(0) { $0 + $1.weight }
        for entry in Self.mix {
            roll -= entry.weight
            if roll < 0 { return entry }
        }
        return Self.mix[0]
    }

    private func negatives(_ count: Int, avoiding touched: Set<Int>, rng: inout SeededGenerator) -> [Int] {
        var chosen: [Int] = []
        var seen = Set<Int>()
        while chosen.count < count {
            let item = Int.random(in: 0..<dataset.titles.count, using: &rng)
            if touched.contains(item) || seen.contains(item) || dataset.titles[item].isEmpty { continue }
            seen.insert(item)
            chosen.append(item)
        }
        return chosen
    }

    private func make(_ entry: (template: String, task: String, weight: Double), user: String, target: Int, history: [Int],
                      touched: Set<Int>, rng: inout SeededGenerator) -> InstructionExample {
        let template = resolved[entry.template] ?? Template.empty
        let title = { (id: Int) in self.dataset.titles[id] }
        let query = Self.query(from: title(target))
        var shown = history + [target]
        let instruction: String
        var answer = title(target)
        switch entry.template {
        case "recommend.history", "search.history.specific", "search.specific":
            var list = negatives(options.candidates - 1, avoiding: touched, rng: &rng) + [target]
            list.shuffle(using: &rng)
            shown += list
            instruction = templates.render(template, history: entry.template == "search.specific" ? [] : history.map(title),
                                           intention: entry.template == "recommend.history" ? nil : query,
                                           candidates: list.map(title))
        case "pointwise.history", "pointwise.query":
            let positive = Bool.random(using: &rng)
            let item = positive ? target : negatives(1, avoiding: touched, rng: &rng)[0]
            shown.append(item)
            instruction = templates.render(template, history: history.map(title), intention: query, item: title(item))
            answer = positive ? "yes" : "no"
        case "infer.query":
            instruction = templates.render(template, item: title(target))
            answer = query
        default:  // generate.history, generate.search.specific
            instruction = templates.render(template, history: history.map(title), intention: query)
        }
        return InstructionExample(user: user, template: entry.template, task: entry.task, instruction: instruction,
                                  target: answer, itemIDs: shown)
    }

    /// A specific intention (I2) made from a title: its leading content words,
    /// without platform and edition words, lowercased.
    public static func query(from title: String) -> String {
        let main = title.components(separatedBy: " - ").first ?? title
        let stop: Set<String> = ["for", "the", "a", "an", "of", "and", "edition", "nintendo", "playstation", "xbox", "ps4", "ps3",
                                 "ps2", "ps5", "pc", "wii", "switch", "one", "360", "3ds", "ds", "vita", "psp", "game", "video"]
        let words = main.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "'" })
            .map(String.init).filter { !stop.contains($0) }
        let picked = words.prefix(4)
        return picked.isEmpty ? main.lowercased() : picked.joined(separator: " ")
    }
}

/// SplitMix64 (the shared generator of the Randomness module), so data generation and evaluation
/// are reproducible on every platform.
public typealias SeededGenerator = SplitMix64
