import Tokenizer

/// Pointwise plans: every candidate is its own encoder input (a query against one document, or
/// a yes/no question about one item), split into windows when it exceeds `maxInputTokens`.
extension InstructionBuilder {
    /// The fewest document tokens a window may hold before the context is shortened (yes/no with a
    /// history) or the request refused: below this a window says little about the document.
    static let minimumWindowTokens = 16

    /// One group per window of every candidate, candidates in canonical order (see `canonicalOrder`).
    ///
    /// A candidate whose whole input fits `maxInputTokens` is tokenized whole: exactly what the
    /// model's reference (transformers with its tokenizer) sees. A longer one is assembled from
    /// the tokens of the text before the document, a slice of the document's own tokens, and the
    /// text after it (+ </s>); tokenization splits at spaces, so this equals tokenizing the text
    /// except where the template glues a character to the document (an item_format's quotes).
    ///
    /// - `truncation`: windows (score each, keep the best), or one window from the start or the end.
    /// - `maxDocumentTokens`: documents are cut to their first this-many tokens first (Cohere's
    ///   max_tokens_per_doc); counted in `documentsTruncated`.
    /// - `maxWindows`: at most this many windows per document (Cohere v1's max_chunks_per_doc);
    ///   a document with more is scored on its first windows and counted as truncated.
    public func pointwisePlan(context: UserContext, candidates: [Item], scorer: PointwiseScorer,
                              truncation: DocumentTruncation = .windows, maxDocumentTokens: Int? = nil,
                              maxWindows: Int? = nil) throws -> InstructionPlan {
        let hasContext = !context.history.isEmpty || !(context.preference ?? "").isEmpty
        var template = scorer.queryTemplate, formatsItem = scorer.formatsItem
        if hasContext {
            guard scorer.kind == .yesNo else {
                throw InstructRecError.unsupportedContext(scorer: scorer.kind.rawValue,
                                                          field: context.history.isEmpty ? "preference" : "history")
            }
            let name = Self.pointwiseName(forServing: TemplateSet.name(for: context))
            guard let named = templates.templates[name] else {
                throw InstructRecError.unknownTemplate(name: name, known: templates.templates.keys.filter { $0.hasPrefix("pointwise.") }.sorted())
            }
            (template, formatsItem) = (named, true)
        }
        if template.placeholders.contains(.intention) && (context.intention ?? "").isEmpty {
            throw InstructRecError.missingContext(template: template.name, field: "query")
        }
        let offered = template.placeholders.contains(.history) ? context.history.map(\.title) : []
        var history = Array(offered.suffix(max(0, options.maxHistoryItems)))

        // The text around the document: before and after its {item}, the item_format's own text included.
        var before = "", after = ""
        var prefix: [Int32] = [], suffix: [Int32] = []
        var width = 0
        while true {
            (before, after) = templates.renderAroundItem(template, formattedHistory: history.map(templates.format),
                                                         preference: context.preference, intention: context.intention,
                                                         formatsItem: formatsItem)
            prefix = tokenizer.encode(before.trimmingCharacters(in: .whitespaces), addEOS: false)
            suffix = tokenizer.encode(after.trimmingCharacters(in: .whitespaces), addEOS: false)
            width = options.maxInputTokens - prefix.count - suffix.count - 1
            if width >= Self.minimumWindowTokens || history.isEmpty { break }
            history.removeFirst()   // the oldest item first, as list instructions do
        }
        guard width >= 1 else {
            throw InstructRecError.instructionTooLong(field: context.history.isEmpty ? "query" : "history",
                                                      tokens: prefix.count + suffix.count + 2, limit: options.maxInputTokens)
        }

        var groups: [InstructionPlan.Group] = []
        var truncated = 0, windowed = 0
        for index in Self.canonicalOrder(candidates) {
            let title = candidates[index].title
            func assembled(_ slice: ArraySlice<Int32>) -> [Int32] { prefix + slice + suffix + [tokenizer.eosID] }
            func text(_ slice: ArraySlice<Int32>) -> String { before + tokenizer.decode(Array(slice)) + after }
            // A cap (max_tokens_per_doc) cuts the document's own tokens first.
            var capped: [Int32]?
            var cut = false
            if let cap = maxDocumentTokens {
                let ids = tokenizer.encode(title, addEOS: false)
                cut = ids.count > cap
                capped = cut ? Array(ids.prefix(max(0, cap))) : ids
            }
            // An uncut document that fits is tokenized whole: exactly what the model's reference sees. Its own
            // tokens are needed only when it does not fit.
            if !cut {
                let whole = before + title + after
                let tokens = tokenizer.encode(whole)
                if tokens.count <= options.maxInputTokens {
                    groups.append(.init(text: whole, tokens: tokens, candidates: [index]))
                    continue
                }
            }
            let document = capped ?? tokenizer.encode(title, addEOS: false)
            if cut && prefix.count + document.count + suffix.count + 1 <= options.maxInputTokens {
                groups.append(.init(text: text(document[...]), tokens: assembled(document[...]), candidates: [index]))
                truncated += 1
                continue
            }
            switch truncation {
            case .keepStart, .keepEnd:
                let slice = truncation == .keepStart ? document.prefix(width) : document.suffix(width)
                groups.append(.init(text: text(slice), tokens: assembled(slice), candidates: [index]))
                if slice.count < document.count || cut { truncated += 1 }
            case .windows:
                var starts = DocumentWindows.starts(length: document.count, width: width)
                if let cap = maxWindows, starts.count > max(1, cap) {
                    starts = Array(starts.prefix(max(1, cap)))
                    cut = true
                }
                for start in starts {
                    let slice = document[start..<min(document.count, start + width)]
                    groups.append(.init(text: text(slice), tokens: assembled(slice), candidates: [index]))
                }
                if starts.count > 1 { windowed += 1 }
                if cut { truncated += 1 }
            }
        }
        var plan = InstructionPlan(template: template.name, groups: groups, targets: candidates.map { _ in [] },
                                   historyItemsUsed: history.count, historyItemsDropped: offered.count - history.count,
                                   historyItemsTrimmed: offered.count - min(offered.count, max(0, options.maxHistoryItems)),
                                   historyTitlesShortened: 0)
        plan.readout = scorer.readout
        plan.documentsTruncated = truncated
        plan.documentsWindowed = windowed
        return plan
    }

    /// The pointwise template name for a serving name: `recommend.X` → `pointwise.X`,
    /// `search.Y` → `pointwise.search.Y` (InstructRec's T0 yes/no task form).
    static func pointwiseName(forServing serving: String) -> String {
        if serving.hasPrefix("recommend.") { return "pointwise." + serving.dropFirst("recommend.".count) }
        return "pointwise." + serving
    }
}
