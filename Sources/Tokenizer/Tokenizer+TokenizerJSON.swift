import Foundation

extension Tokenizer {
    /// Loads a Hugging Face `tokenizer.json` with a Unigram model.
    public convenience init(tokenizerJSON url: URL) throws {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadable(file: file, reason: error.localizedDescription)
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TokenizerError.invalidTokenizerJSON(file: file, reason: "not a JSON object")
        }
        guard let modelJSON = root["model"] as? [String: Any] else {
            throw TokenizerError.invalidTokenizerJSON(file: file, reason: "no 'model' object")
        }
        let modelType = modelJSON["type"] as? String ?? "(none)"
        guard modelType == "Unigram" else {
            throw TokenizerError.unsupportedComponent(file: file, component: "model", type: modelType)
        }
        if modelJSON["byte_fallback"] as? Bool == true {
            throw TokenizerError.unsupportedComponent(file: file, component: "model", type: "Unigram with byte_fallback")
        }
        guard let vocab = modelJSON["vocab"] as? [[Any]], !vocab.isEmpty else {
            throw TokenizerError.invalidTokenizerJSON(file: file, reason: "model.vocab must be a non-empty list of [piece, score]")
        }
        var pieces: [String] = []
        var scores: [Double] = []
        pieces.reserveCapacity(vocab.count)
        for (i, entry) in vocab.enumerated() {
            guard entry.count == 2, let piece = entry[0] as? String, let score = (entry[1] as? NSNumber)?.doubleValue else {
                throw TokenizerError.invalidTokenizerJSON(file: file, reason: "model.vocab[\(i)] is not [piece, score]")
            }
            pieces.append(piece)
            scores.append(score)
        }
        guard let unknown = (modelJSON["unk_id"] as? NSNumber)?.intValue, unknown >= 0, unknown < pieces.count else {
            throw TokenizerError.invalidTokenizerJSON(file: file, reason: "model.unk_id missing or outside the vocabulary")
        }

        let normalizers = try Tokenizer.normalizerSteps(root["normalizer"], file: file)
        let metaspace = try Tokenizer.metaspace(root["pre_tokenizer"], file: file)

        var specials: [(content: String, id: Int32)] = []
        for token in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = token["content"] as? String, let id = (token["id"] as? NSNumber)?.intValue,
                  id >= 0, id < pieces.count
            else {
                throw TokenizerError.invalidTokenizerJSON(file: file, reason: "added_tokens entry without content/id in the vocabulary")
            }
            specials.append((content, Int32(id)))
        }
        let specialIDs = Set(specials.filter { _ in true }.map(\.id))
        let eos = specials.first { $0.content == "</s>" }?.id ?? pieces.firstIndex(of: "</s>").map { Int32($0) }
        guard let eos else {
            throw TokenizerError.invalidTokenizerJSON(file: file, reason: "no </s> token")
        }
        let model = UnigramModel(pieces: pieces, scores: scores, unknownID: Int32(unknown),
                                 trieIDs: pieces.indices.map { Int32($0) }, precision: .double)
        self.init(pipeline: .huggingFace(normalizers: normalizers, metaspace: metaspace,
                                         specials: SpecialTokenMatcher(tokens: specials)),
                  model: model, specialIDs: specialIDs, controlIDs: [], eosID: eos, source: file)
    }

    static func normalizerSteps(_ json: Any?, file: String) throws -> [NormalizerStep] {
        guard let json, !(json is NSNull) else { return [] }
        guard let object = json as? [String: Any], let type = object["type"] as? String else {
            throw TokenizerError.invalidTokenizerJSON(file: file, reason: "normalizer without a type")
        }
        switch type {
        case "Sequence":
            guard let list = object["normalizers"] as? [Any] else {
                throw TokenizerError.invalidTokenizerJSON(file: file, reason: "Sequence normalizer without 'normalizers'")
            }
            return try list.flatMap { try normalizerSteps($0, file: file) }
        case "Precompiled":
            guard let encoded = object["precompiled_charsmap"] as? String else {
                throw TokenizerError.invalidCharsmap(file: file, reason: "Precompiled normalizer without precompiled_charsmap")
            }
            guard let blob = Data(base64Encoded: encoded) else {
                throw TokenizerError.invalidCharsmap(file: file, reason: "precompiled_charsmap is not valid base64")
            }
            if blob.isEmpty { return [] }
            return [.precompiled(try PrecompiledCharsmap(blob: [UInt8](blob), file: file))]
        case "Replace":
            let content = object["content"] as? String ?? ""
            guard let pattern = object["pattern"] as? [String: Any] else {
                throw TokenizerError.invalidTokenizerJSON(file: file, reason: "Replace normalizer without a pattern")
            }
            if let literal = pattern["String"] as? String { return [.replaceLiteral(pattern: literal, content: content)] }
            guard let regex = pattern["Regex"] as? String else {
                throw TokenizerError.invalidTokenizerJSON(file: file, reason: "Replace pattern must be String or Regex")
            }
            if let (character, minimum) = NormalizerStep.runPattern(regex) {
                return [.collapseRuns(character: character, minimum: minimum, content: content)]
            }
            guard let compiled = try? NSRegularExpression(pattern: regex) else {
                throw TokenizerError.invalidTokenizerJSON(file: file, reason: "Replace regex '\(regex)' does not compile")
            }
            return [.replaceRegex(UncheckedRegex(value: compiled), content: content)]
        default:
            throw TokenizerError.unsupportedComponent(file: file, component: "normalizer", type: type)
        }
    }

    static func metaspace(_ json: Any?, file: String) throws -> Metaspace {
        guard let object = json as? [String: Any], let type = object["type"] as? String else {
            throw TokenizerError.invalidTokenizerJSON(file: file, reason: "pre_tokenizer missing (a Metaspace is required)")
        }
        if type == "Sequence", let list = object["pretokenizers"] as? [Any], list.count == 1 {
            return try metaspace(list[0], file: file)
        }
        guard type == "Metaspace" else {
            throw TokenizerError.unsupportedComponent(file: file, component: "pre_tokenizer", type: type)
        }
        let replacement = (object["replacement"] as? String).flatMap { $0.count == 1 ? $0.first : nil } ?? "\u{2581}"
        let scheme: Metaspace.PrependScheme
        if let raw = object["prepend_scheme"] as? String {
            guard let parsed = Metaspace.PrependScheme(rawValue: raw) else {
                throw TokenizerError.invalidTokenizerJSON(file: file, reason: "unknown Metaspace prepend_scheme '\(raw)'")
            }
            scheme = parsed
        } else {
            // Older files: add_prefix_space (default true) means "always".
            scheme = (object["add_prefix_space"] as? Bool ?? true) ? .always : .never
        }
        return Metaspace(replacement: replacement, prependScheme: scheme, split: object["split"] as? Bool ?? true)
    }
}
