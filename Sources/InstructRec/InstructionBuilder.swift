import Tokenizer

/// Limits on what goes into the encoder and the decoder.
public struct InstructionOptions: Sendable, Equatable {
    /// encoder tokens per instruction, </s> included
    public var maxInputTokens = 512
    /// history titles are shortened to this many tokens once dropping old items is not enough
    public var maxHistoryTitleTokens = 32
    /// candidate titles are scored on at most this many tokens (+ </s>)
    public var maxTargetTokens = 64
    /// only the newest this many history items are considered (the model's history length);
    /// older ones are trimmed before instruction fitting and counted in `historyItemsTrimmed`
    public var maxHistoryItems = Int.max
    /// when candidates must be split into groups, the user context is fitted so
    /// that at least this many of the longest candidates share one instruction
    public var minimumGroupSize = 5
    /// which instruction form a request without a `template` gets (see `InstructionForm`)
    public var form = InstructionForm.list

    public init() {}
}

/// The two ways an instruction can present a ranking task (InstructRec's task forms).
public enum InstructionForm: String, Sendable, CaseIterable {
    /// T3: the candidates are listed in the instruction (`recommend.*`, `search.*`), in a canonical
    /// order (see `InstructionBuilder`); more than fit one instruction are split into groups
    case list
    /// T2: the instruction holds only the user's context (`generate.*`) and every candidate is scored
    /// against it: order-free by construction, one short instruction for any number of candidates.
    /// Falls back to `list` for a context whose candidate-free template the set lacks.
    case candidateFree = "candidate_free"
}

/// The instructions for one request: one group normally, several when the
/// candidates cannot share one instruction within max_input_tokens.
public struct InstructionPlan: Sendable {
    public struct Group: Sendable {
        public var text: String
        /// encoder input: tokenizer(text), </s> included
        public var tokens: [Int32]
        /// indices into the request's candidates
        public var candidates: [Int]
    }

    public var template: String
    public var groups: [Group]
    /// the template rendered with an empty context (no history, preference, intention or
    /// candidates), tokenized: the condition of the title prior in calibrated scoring
    public var priorInstruction: [Int32] = []
    /// per candidate: title tokens (truncated to maxTargetTokens), without </s>
    public var targets: [[Int32]]
    /// per candidate: every token of its title, uncut (what `targets` were cut from; a request's own cap
    /// or keep_end cuts these again, never tokenizing twice); empty for a pointwise plan
    public var titleTokens: [[Int32]] = []
    public var historyItemsUsed: Int
    /// history items left out: trimmed by maxHistoryItems plus dropped to fit maxInputTokens
    public var historyItemsDropped: Int
    /// of those, the oldest items beyond maxHistoryItems, trimmed before fitting
    public var historyItemsTrimmed: Int
    public var historyTitlesShortened: Int
    /// A pointwise plan (MonoT5, RankT5, yes/no): every group is one window of one candidate (its
    /// `candidates` holds that one index), scored by reading these logits; `targets` are empty.
    public var readout: PointwiseReadout? = nil
    /// candidates whose text was cut: titles longer than max_target_tokens (or the request's cap)
    /// for likelihood scoring, documents cut by a request's truncation for pointwise scoring
    public var documentsTruncated = 0
    /// pointwise: documents scored over more than one window
    public var documentsWindowed = 0
    /// tokens cut from a query too long for any instruction, under a request's truncation (TEI `truncate: true`)
    public var queryTokensDropped = 0
    /// the last this many targets are the model's relevance reference titles, not candidates (`RelevanceReference`)
    public var referenceTargets = 0
    /// the context's relevance offset when a recent request with the same instruction and scoring computed it
    /// (`ReferenceOffsetCache`): the references are then not scored again
    public var referenceOffset: Float? = nil

    public init(template: String, groups: [Group], priorInstruction: [Int32] = [], targets: [[Int32]], historyItemsUsed: Int,
                historyItemsDropped: Int, historyItemsTrimmed: Int, historyTitlesShortened: Int) {
        self.template = template
        self.groups = groups
        self.priorInstruction = priorInstruction
        self.targets = targets
        self.historyItemsUsed = historyItemsUsed
        self.historyItemsDropped = historyItemsDropped
        self.historyItemsTrimmed = historyItemsTrimmed
        self.historyTitlesShortened = historyTitlesShortened
    }
}

/// Builds InstructRec instructions from templates and fits them to the
/// encoder's budget, in this order, never cutting the template text, the
/// intention, the preference or a candidate title:
/// 0. keep only the newest `maxHistoryItems` history items;
/// 1. drop the oldest history items;
/// 2. shorten over-long history titles (and retry with as much history as fits);
/// 3. drop the history altogether;
/// 4. split the candidates into groups that fit, each with the same user context.
///
/// Candidates are laid out in a canonical order (by title, then id), never the request's:
/// a list instruction, its groups and the order the scorer sees titles in depend only on
/// the candidate set, so the same candidates in any order get the same instructions and
/// the same scores. Plans keep the request's indices, so answers map back to input order.
public struct InstructionBuilder: Sendable {
    public let templates: TemplateSet
    public let tokenizer: Tokenizer
    public let options: InstructionOptions

    public init(templates: TemplateSet, tokenizer: Tokenizer, options: InstructionOptions) {
        self.templates = templates
        self.tokenizer = tokenizer
        self.options = options
    }

    public func plan(context: UserContext, candidates: [Item], template requested: String? = nil) throws -> InstructionPlan {
        let template = try templates.template(named: requested, for: context, form: options.form)
        let used = template.placeholders
        if used.contains(.history) && context.history.isEmpty && requested != nil {
            throw InstructRecError.missingContext(template: template.name, field: "history")
        }
        if used.contains(.preference) && (context.preference ?? "").isEmpty {
            throw InstructRecError.missingContext(template: template.name, field: "preference")
        }
        if used.contains(.intention) && (context.intention ?? "").isEmpty {
            throw InstructRecError.missingContext(template: template.name, field: "query")
        }
        let fullTargets = candidates.map { tokenizer.encode($0.title, addEOS: false) }
        let targets = fullTargets.map { Array($0.prefix(options.maxTargetTokens)) }
        let cut = fullTargets.filter { $0.count > options.maxTargetTokens }.count
        let offered = used.contains(.history) ? context.history.map(\.title) : []
        let history = Array(offered.suffix(max(0, options.maxHistoryItems)))
        let trimmed = offered.count - history.count
        let all = Self.canonicalOrder(candidates)
        let limit = options.maxInputTokens

        // Each title is formatted once per plan, not once per fitting probe (a probe renders
        // every history title and candidate of its instruction); `formatted` memoizes the
        // history titles, shortened or not, by their text.
        let formattedCandidates = candidates.map { templates.format($0.title) }
        var formatted: [String: String] = [:]
        func formatHistory(_ titles: [String]) {
            for title in titles where formatted[title] == nil { formatted[title] = templates.format(title) }
        }
        formatHistory(history)
        func render(_ historyTitles: ArraySlice<String>, _ group: [Int]) -> String {
            templates.render(template, formattedHistory: historyTitles.map { formatted[$0] ?? templates.format($0) },
                             preference: context.preference, intention: context.intention,
                             formattedCandidates: group.map { formattedCandidates[$0] })
        }
        /// One rendering and one tokenization per candidate instruction: what a fitting step
        /// measured is what the plan keeps, never rendered or tokenized again.
        func build(_ historyTitles: ArraySlice<String>, _ group: [Int]) -> InstructionPlan.Group {
            let text = render(historyTitles, group)
            return .init(text: text, tokens: tokenizer.encode(text), candidates: group)
        }
        /// The instruction with the largest number of most-recent history items with which `group` fits, or nil.
        func mostHistory(_ titles: [String], _ group: [Int], atLeast minimum: Int) -> (kept: Int, group: InstructionPlan.Group)? {
            var low = minimum, high = titles.count, best: (kept: Int, group: InstructionPlan.Group)?
            while low <= high {
                let mid = (low + high) / 2
                let candidate = build(titles.suffix(mid), group)
                if candidate.tokens.count <= limit { best = (mid, candidate); low = mid + 1 } else { high = mid - 1 }
            }
            return best
        }
        let priorInstruction = priorInstruction(for: template)
        func result(_ groups: [InstructionPlan.Group], kept: Int, shortened: Int) -> InstructionPlan {
            var plan = InstructionPlan(template: template.name, groups: groups, priorInstruction: priorInstruction, targets: targets,
                                       historyItemsUsed: kept, historyItemsDropped: offered.count - kept, historyItemsTrimmed: trimmed,
                                       historyTitlesShortened: shortened)
            plan.documentsTruncated = cut
            plan.titleTokens = fullTargets
            return plan
        }

        // 0. Everything fits.
        let full = build(history[...], all)
        if full.tokens.count <= limit {
            return result([full], kept: history.count, shortened: 0)
        }
        // 1. Drop the oldest history items, keeping at least the most recent one.
        if !history.isEmpty, let best = mostHistory(history, all, atLeast: 1) {
            return result([best.group], kept: best.kept, shortened: 0)
        }
        // 2. Shorten over-long history titles, then keep as much history as fits.
        let (shortTitles, shortenedCount) = shorten(history)
        formatHistory(shortTitles)
        if shortenedCount > 0, let best = mostHistory(shortTitles, all, atLeast: 1) {
            let shortenedKept = zip(history.suffix(best.kept), shortTitles.suffix(best.kept)).filter { $0 != $1 }.count
            return result([best.group], kept: best.kept, shortened: shortenedKept)
        }
        // 3. No history at all.
        let bare = build([], all)
        if bare.tokens.count <= limit {
            return result([bare], kept: 0, shortened: 0)
        }
        // 4. Groups. The shared context keeps as much history as lets the
        // longest candidates still share one instruction.
        // Longest first; equal lengths keep the canonical order (an explicit tie-break: the sort is not stable).
        let rank = Dictionary(uniqueKeysWithValues: all.enumerated().map { ($1, $0) })
        let byLength = all.sorted {
            let (a, b) = (candidates[$0].title.utf8.count, candidates[$1].title.utf8.count)
            return a != b ? a > b : rank[$0, default: 0] < rank[$1, default: 0]
        }
        var context: [String] = []
        var contextFits = false
        for size in [min(options.minimumGroupSize, all.count), 1] where size >= 1 {
            let probe = Array(byLength.prefix(size))
            if let best = mostHistory(shortTitles, probe, atLeast: 0) {
                context = Array(shortTitles.suffix(best.kept))
                contextFits = true
                break
            }
        }
        guard contextFits, !byLength.isEmpty else {
            let longest = byLength.first.map { build([], [$0]).tokens.count } ?? bare.tokens.count
            throw InstructRecError.instructionTooLong(field: requestFieldForOverflow(used: used),
                                                      tokens: longest, limit: limit)
        }
        // tokens of one formatted item followed by the separator, as it sits inside a list
        let cost: (Int) -> Int = { index in
            tokenizer.encode(formattedCandidates[index] + templates.candidateSeparator, addEOS: false).count
        }
        let groups = pack(all, context: context[...], cost: cost, build: build)
        let shortenedKept = zip(history.suffix(context.count), context).filter { $0 != $1 }.count
        return result(groups, kept: context.count, shortened: shortenedKept)
    }

    /// The template rendered with an empty context (no history, preference, intention or candidates),
    /// tokenized: the condition of the title prior in calibrated scoring.
    public func priorInstruction(for template: Template) -> [Int32] {
        tokenizer.encode(templates.render(template, formattedHistory: [], formattedCandidates: []))
    }

    /// Candidate indices sorted by title, then id, then input position (only identical items tie
    /// that far, and they are interchangeable): the order every plan lays candidates out in.
    public static func canonicalOrder(_ candidates: [Item]) -> [Int] {
        candidates.indices.sorted { a, b in
            let (x, y) = (candidates[a], candidates[b])
            if x.title != y.title { return x.title.utf8.lexicographicallyPrecedes(y.title.utf8) }
            if x.id != y.id { return x.id.utf8.lexicographicallyPrecedes(y.id.utf8) }
            return a < b
        }
    }

    /// Greedy packing in canonical order. The token count of a candidate list is
    /// nearly additive over items (SentencePiece pre-splits at spaces), so
    /// groups are packed by estimate and each is verified by a real tokenization.
    private func pack(_ indices: [Int], context: ArraySlice<String>, cost: (Int) -> Int,
                      build: (ArraySlice<String>, [Int]) -> InstructionPlan.Group) -> [InstructionPlan.Group] {
        let limit = options.maxInputTokens
        let base = build(context, []).tokens.count
        var groups: [InstructionPlan.Group] = []
        var pending = indices[...]
        while let first = pending.first {
            var members = [first]
            var estimate = base + cost(first)
            pending.removeFirst()
            while let next = pending.first {
                let itemCost = cost(next)
                if estimate + itemCost > limit { break }
                members.append(next)
                estimate += itemCost
                pending.removeFirst()
            }
            // Verify; give back candidates from the end while the estimate was optimistic.
            var group = build(context, members)
            while group.tokens.count > limit && members.count > 1 {
                pending.insert(members.removeLast(), at: pending.startIndex)
                group = build(context, members)
            }
            groups.append(group)
        }
        return groups
    }

    /// Shortens every history title longer than maxHistoryTitleTokens; returns the titles and how many changed.
    private func shorten(_ titles: [String]) -> ([String], Int) {
        var changed = 0
        let short = titles.map { title -> String in
            let ids = tokenizer.encode(title, addEOS: false)
            guard ids.count > options.maxHistoryTitleTokens else { return title }
            changed += 1
            return tokenizer.decode(Array(ids.prefix(options.maxHistoryTitleTokens)))
        }
        return (short, changed)
    }

    private func requestFieldForOverflow(used: Set<Template.Placeholder>) -> String {
        used.contains(.intention) ? "query" : used.contains(.preference) ? "preference" : "candidates"
    }
}
