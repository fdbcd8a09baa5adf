import Foundation
import HTTP
import Hub
import InstructRec
import T5Scoring
import Tokenizer

/// Every setting of `instructrec serve`, `score` and `eval`, in layers (later wins):
/// built-in defaults < the model directory (`instructrec.json` with model-bound
/// keys, `templates.json`) < the config file < `INSTRUCTREC_<KEY>` environment
/// variables < command-line flags. Each setting is validated at start with an
/// error naming it, and `sources` records which layer set it (shown by /info).
public struct ServiceConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 8080
    /// HF checkpoint directory (config.json + model.safetensors) of the model these settings describe
    public var model = "models/default"
    /// that model's name (requests route by it; see `ModelEntry`)
    public var modelName = ModelEntry.defaultName
    /// the hub id `model` was fetched from (`model` is then its snapshot in the cache); nil for a directory
    public private(set) var modelHubID: String?
    /// the other models this replica serves, in order, after the default (`models`; empty: one model)
    public private(set) var additionalModels: [ModelEntry] = []
    /// extra names for served models, alias -> model name (e.g. "rerank-v3.5" -> "default")
    public var aliases: [String: String] = [:]
    /// where a request naming no served model goes when several are served (nil: 404)
    public var fallbackModel: String?
    /// `models` as the layers gave it (the default is its first entry, unless `model` is set in a later layer)
    private var modelList: [ModelEntry]?
    /// what `load` read, so each additional model's settings are layered the same way (`configuration(for:)`)
    private var inputs: LoadInputs?
    /// each of `additionalModels`' settings, made (and so checked) by `load`
    private var additionalConfigurations: [ServiceConfiguration] = []
    /// directory or file with tokenizer.json / spiece.model; defaults to the model directory
    public var tokenizer: String?
    public var templates = "config/templates.json"
    public var workers = 1
    public var threadsPerWorker = 2
    public var queueCapacity = 32
    /// requests one engine call may score together (1: batching off)
    public var maxBatchRequests = 8
    /// instruction + candidate tokens one engine pass may carry (a larger request still runs, alone); a
    /// worker's call carries up to this many per thread
    public var maxBatchTokens = 2048
    /// how long a free worker with an unfilled batch waits for more requests (0: only what already waits)
    public var batchWaitMilliseconds = 0
    /// size each worker's scratch for a full pass (max_batch_tokens) at start-up, so resident memory is flat
    /// from the start; false: it grows to that bound the first time load needs it
    public var reserveScratch = false
    public var requestTimeoutMilliseconds = 30_000
    public var maxInputTokens = 512
    public var maxTargetTokens = 64
    public var maxHistoryTitleTokens = 32
    public var maxCandidates = 1000
    /// model-bound: how requests that name no `scoring` are scored, and α for calibrated scoring
    public var scoringMode = Scoring.Mode.sum
    public var priorWeight: Float = 0.5
    /// model-bound: α for requests with the user's words, an intention or a preference (nil: priorWeight; see `Scoring`)
    public var queryPriorWeight: Float?
    /// model-bound: list instructions (T3) or candidate-free ones (T2) for requests that name no template
    public var instructionForm = InstructionForm.list
    /// what relevance_score means (logistic of the score, or the within-request softmax)
    public var relevanceMode = Relevance.Mode.logistic
    /// model-bound: the logistic's scale and bias for history contexts, fitted on the model's validation split
    public var relevanceScale = 1.0
    public var relevanceBias = 0.0
    /// model-bound: the logistic's scale and bias for query contexts (nil: the history context's)
    public var queryRelevanceScale: Double?
    public var queryRelevanceBias: Double?
    /// model-bound: leave out candidates the request's history already holds, when a request does not say
    public var excludeHistory = false
    /// model-bound: titles scored beside every candidate-free request whose median score is the context's
    /// relevance offset (see `RelevanceReference`); empty: none
    public var relevanceReferenceTitles: [String] = []
    /// the title-prior cache's bounds (entries, MiB)
    public var priorCacheEntries = 200_000
    public var priorCacheMegabytes = 64
    /// each model's cache of encoded contexts (cross-attention K/V of instructions seen), MiB; 0: off
    public var contextCacheMegabytes = 64
    /// a catalog file whose titles warm the title-prior cache at start-up (one title a line,
    /// `id<TAB>title`, or JSON Lines with "title")
    public var priorCatalog: String?
    /// model-bound: how the model scores candidates (likelihood of titles, or pointwise: monot5, rankt5, yes_no)
    public var scorer = ScorerKind.likelihood
    /// model-bound, scorer yes_no: the query template (a name in the template set or a template text
    /// with {query} and {document}; default pointwise.query) and the two vocabulary pieces it reads
    public var yesNoTemplate: String?
    public var yesToken: String?
    public var noToken: String?
    /// model-bound: the newest N history items are kept before instruction fitting
    public var maxHistoryItems = 200
    /// a text field's limit in Unicode code points; pointwise models take documents far longer than
    /// their input window (scored over windows), so the default leaves room for a 20-page document
    public var maxTextCharacters = 50_000
    public var maxBodyBytes = 4 * 1024 * 1024
    public var maxConnections = 1024
    public var apiKeys: [String] = []
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var drainDelaySeconds = 5.0
    public var shutdownDeadlineSeconds = 30.0
    public var idleTimeoutSeconds = 75.0
    public var logRequests = true
    /// `auto`: BF16/F16 weight matrices stay 16-bit in memory (half the RAM), widened per slice
    /// inside each product; `f32`: widen them all at load (the old behaviour). F32 checkpoints are F32 either way.
    public var weightsDType = WeightsDType.auto

    /// setting -> where its value came from: "default", "<model>/instructrec.json",
    /// "<model>/templates.json", the config file's path, "INSTRUCTREC_<KEY>" or "flag"
    public private(set) var sources: [String: String] = [:]
    /// setting -> the command-line flag that sets it ("--port"); others are "--set key=value"
    var flagSpellings: [String: String] = [:]
    /// start-up warnings (unknown INSTRUCTREC_* variables, retired keys); `serve` logs them
    public private(set) var warnings: [String] = []
    /// one warning per retired key that a layer set (see `retiredKeys`)
    private var retiredWarnings: [String] = []

    public init() {}

    /// INSTRUCTREC_* variables that are not settings but are read elsewhere (BLAS kernel selection, a test hook).
    public static let otherVariables = ["INSTRUCTREC_BLAS_CHOSEN", "INSTRUCTREC_BLAS_PACKING", "INSTRUCTREC_BLAS_SIMULATE_UNSET",
                                        "INSTRUCTREC_TEST_LOAD_DELAY_S"]

    /// Where a setting's value came from, as an operator would look for it:
    /// "config/instructrec.json", "INSTRUCTREC_PORT", "--port", "built-in default".
    public func origin(of key: String) -> String {
        switch sources[key] {
        case nil, "default": return "built-in default"
        case "flag": return flagSpellings[key] ?? "--set \(key)=..."
        case let source?: return source
        }
    }

    /// Settings that belong to a model (its training prompts and lengths): a model
    /// directory's instructrec.json may set these and nothing else.
    public static let modelBoundKeys = ["max_input_tokens", "max_history_items", "max_history_title_tokens", "max_target_tokens",
                                        "scoring", "prior_weight", "query_prior_weight", "unfamiliar_prior_weight", "familiarity_threshold",
                                        "instruction_form", "relevance_scale", "relevance_bias", "query_relevance_scale",
                                        "query_relevance_bias", "exclude_history", "relevance_reference_titles",
                                        "scorer", "yes_no_template", "yes_token", "no_token", "relevance_fit"]

    /// Keys a model's instructrec.json may carry for people, not for the service: `relevance_fit`, the figures
    /// `instructrec eval --fit-relevance --write-model-settings` wrote beside the mapping it fitted.
    static let informationalKeys: Set<String> = ["relevance_fit"]

    /// Keys that earlier models carried and the service no longer reads: accepted, with a start-up warning.
    static let retiredKeys: [String: String] = [
        "unfamiliar_prior_weight": "a request's α no longer follows its candidates' familiarity (a document's score would depend on its company); query_prior_weight sets the α of requests with an intention or a preference",
        "familiarity_threshold": "a request's α no longer follows its candidates' familiarity; see query_prior_weight",
    ]

    public struct Invalid: Error, CustomStringConvertible {
        public let setting: String
        public let reason: String
        /// the file, INSTRUCTREC_<KEY> variable or flag that gave the value
        public var source: String?

        public init(setting: String, reason: String, source: String? = nil) {
            self.setting = setting
            self.reason = reason
            self.source = source
        }

        public var description: String {
            "configuration setting '\(setting)'\(source.map { " (from \($0))" } ?? ""): \(reason)"
        }
    }

    /// The keys, as written in the JSON file (and, uppercased, after INSTRUCTREC_).
    public static let keys = [
        "host", "port", "model", "tokenizer", "templates", "workers", "threads_per_worker", "queue_capacity",
        "max_batch_requests", "max_batch_tokens", "batch_wait_ms", "reserve_scratch",
        "request_timeout_ms", "max_input_tokens", "max_target_tokens", "max_history_title_tokens", "max_candidates",
        "max_history_items", "max_text_chars", "max_body_bytes", "max_connections", "api_keys", "tls_cert", "tls_key",
        "drain_delay_s", "shutdown_deadline_s", "idle_timeout_s", "log_requests", "weights_dtype",
        "scoring", "prior_weight", "query_prior_weight", "unfamiliar_prior_weight", "familiarity_threshold", "instruction_form",
        "relevance", "relevance_scale", "relevance_bias", "query_relevance_scale", "query_relevance_bias", "exclude_history",
        "relevance_reference_titles",
        "prior_cache_entries", "prior_cache_mb", "prior_catalog", "context_cache_mb",
        "scorer", "yes_no_template", "yes_token", "no_token",
        "models", "aliases", "fallback_model",
    ]

    /// What `load` was given.
    private struct LoadInputs: Sendable {
        var file: String?
        var environment: [String: String]
        var overrides: [String: String]
        var flagSpellings: [String: String]
        var baseDirectories: [String]
        /// hub id -> its local snapshot directory, once fetched
        var localSources: [String: String] = [:]
    }

    /// The model sources of the form org/name[@revision] that are no directory: hub ids, to be fetched
    /// (`resolvingHubSources`) before the models load. The default's first.
    public var hubSources: [String] {
        ([model] + additionalModels.map(\.source)).filter { HubModelID($0) != nil }
    }

    /// The same settings with every hub id replaced by its local snapshot (`fetch` gives it), and the model
    /// directories' own settings (`instructrec.json`, `templates.json`) read from there.
    public func resolvingHubSources(_ fetch: (HubModelID) throws -> URL) throws -> ServiceConfiguration {
        let sources = hubSources
        guard !sources.isEmpty, var inputs else { return self }
        for source in sources where inputs.localSources[source] == nil {
            guard let id = HubModelID(source) else { continue }
            inputs.localSources[source] = try fetch(id).path
        }
        return try Self.load(inputs, entry: nil)
    }

    /// Keys that belong to one model: the top level (file, environment, flags) gives them to the default
    /// model only; another model takes them from its directory and its entry's `settings`.
    static let perModelKeys: Set<String> = Set(modelBoundKeys + ["model", "models", "tokenizer", "templates", "prior_catalog"])

    /// Every model served, the default first: its settings, then each of `models` after it, layered as
    /// the default's are except that top-level model-bound settings do not reach them (`ModelEntry`).
    public func modelConfigurations() throws -> [ServiceConfiguration] {
        guard inputs != nil else { return try [self] + additionalModels.map { try configuration(for: $0) } }
        return [self] + additionalConfigurations
    }

    /// The settings of one additional model.
    public func configuration(for entry: ModelEntry) throws -> ServiceConfiguration {
        guard let inputs else {
            var single = self
            single.model = entry.source
            single.modelName = entry.name
            single.additionalModels = []
            return single
        }
        return try Self.load(inputs, entry: entry)
    }

    /// defaults < model directory < file (optional) < environment < overrides (flags), each a key -> text map.
    ///
    /// - Parameters:
    ///   - flagSpellings: setting -> the flag that set it, for error messages ("port": "--port")
    ///   - baseDirectories: where relative default paths and relative paths from the file are
    ///     looked for when they are not found from the working directory (the config file's
    ///     directory and its parent, the binary's): `serve` then works from any directory
    public static func load(file: String?, environment: [String: String], overrides: [String: String],
                            flagSpellings: [String: String] = [:], baseDirectories: [String] = []) throws -> ServiceConfiguration {
        try load(LoadInputs(file: file, environment: environment, overrides: overrides, flagSpellings: flagSpellings,
                            baseDirectories: baseDirectories), entry: nil)
    }

    /// The layers of `inputs`; for an additional model (`entry`), without the top level's per-model keys and
    /// with one more layer last: its source and its entry's settings, labelled as the `models` list's layer.
    private static func load(_ inputs: LoadInputs, entry: ModelEntry?) throws -> ServiceConfiguration {
        let (file, environment, overrides) = (inputs.file, inputs.environment, inputs.overrides)
        let (flagSpellings, baseDirectories) = (inputs.flagSpellings, inputs.baseDirectories)
        var layers: [(source: String, values: [(String, String?)])] = []
        var entrySettings: [String: [String: String?]] = [:]
        if let file {
            layers.append((file, try readJSONSettings(file, allowed: keys)))
            entrySettings = try readModelEntrySettings(file)
        }
        layers.append(("environment", keys.compactMap { key in environment["INSTRUCTREC_" + key.uppercased()].map { (key, Optional($0)) } }))
        for key in overrides.keys where !keys.contains(key) {
            throw Invalid(setting: key, reason: "unknown setting", source: flagSpellings[key] ?? "--set \(key)=...")
        }
        layers.append(("flag", overrides.sorted { $0.key < $1.key }.map { ($0.key, Optional($0.value)) }))
        // The layer that set `models` (an additional model's own layer is labelled as it).
        let listLayer = layers.lastIndex { $0.values.contains { $0.0 == "models" } }
        if let entry {
            layers = layers.map { layer in (layer.source, layer.values.filter { !perModelKeys.contains($0.0) }) }
            var own: [(String, String?)] = [("model", entry.source)]
            own += (entrySettings[entry.name] ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            layers.append((listLayer.map { layers[$0].source } ?? "flag", own))
        }
        func display(_ layer: String, _ key: String) -> String {
            switch layer {
            case "environment": return "INSTRUCTREC_" + key.uppercased()
            case "flag": return flagSpellings[key] ?? "--set \(key)=..."
            default: return layer
            }
        }
        // Relative paths typed by the operator (environment, flags) are taken from the working
        // directory; defaults and the file's from the base directories when not found there.
        let pathKeys: Set = ["model", "templates", "tokenizer", "prior_catalog"]
        func resolved(_ key: String, _ value: String?, layer: String) -> String? {
            guard pathKeys.contains(key), layer != "environment", layer != "flag", let value, !value.isEmpty, value != "null",
                  !value.hasPrefix("/"), !FileManager.default.fileExists(atPath: value) else { return value }
            for base in baseDirectories {
                let candidate = URL(fileURLWithPath: base).appendingPathComponent(value).standardizedFileURL.path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
            return value
        }
        func apply(_ configuration: inout ServiceConfiguration, _ key: String, _ value: String?, layer: String) throws {
            // A hub id already fetched reads as its snapshot directory.
            if key == "model", let value, let local = inputs.localSources[value] {
                try configuration.apply(key, local)
                return
            }
            do { try configuration.apply(key, resolved(key, value, layer: layer)) } catch var error as Invalid {
                error.source = display(layer, key)
                throw error
            }
        }

        // The model directory is itself a setting: find it first, then read its files. With a `models` list,
        // the default model is its first entry, unless `model` is set in a later layer than the list.
        var configuration = ServiceConfiguration()
        try apply(&configuration, "model", configuration.model, layer: "default")
        var modelSetIn: Int?
        for (index, layer) in layers.enumerated() {
            for (key, value) in layer.values where key == "model" {
                try apply(&configuration, key, value, layer: layer.source)
                modelSetIn = index
            }
        }
        var list: [ModelEntry]?
        if entry == nil, let listLayer {
            for (key, value) in layers[listLayer].values where key == "models" { try apply(&configuration, key, value, layer: layers[listLayer].source) }
            list = configuration.modelList
            if let first = list?.first, (modelSetIn ?? -1) <= listLayer {
                try apply(&configuration, "model", first.source, layer: layers[listLayer].source)
            }
        }
        let defaultSource = configuration.model
        let modelDirectory = URL(fileURLWithPath: configuration.model)
        var modelLayer: [(String, String?)] = []
        let modelSettings = modelDirectory.appendingPathComponent("instructrec.json").path
        if FileManager.default.fileExists(atPath: modelSettings) {
            modelLayer = try readJSONSettings(modelSettings, allowed: modelBoundKeys)
        }
        let modelTemplates = modelDirectory.appendingPathComponent("templates.json").path
        let templatesSetElsewhere = layers.contains { $0.values.contains { $0.0 == "templates" } }
        if !templatesSetElsewhere && FileManager.default.fileExists(atPath: modelTemplates) {
            modelLayer.append(("templates", modelTemplates))
        }

        configuration = ServiceConfiguration()
        configuration.flagSpellings = flagSpellings
        for key in keys { configuration.sources[key] = "default" }
        let defaults = ServiceConfiguration()
        try apply(&configuration, "model", defaults.model, layer: "default")
        try apply(&configuration, "templates", defaults.templates, layer: "default")
        for (key, value) in modelLayer {
            let source = key == "templates" ? modelTemplates : modelSettings
            try apply(&configuration, key, value, layer: source)
            configuration.sources[key] = source
        }
        for layer in layers {
            for (key, value) in layer.values {
                try apply(&configuration, key, value, layer: layer.source)
                configuration.sources[key] = layer.source == "environment" ? "INSTRUCTREC_" + key.uppercased() : layer.source
            }
        }
        if let entry {
            // Names and routing belong to the replica (the default's configuration), not to one model.
            configuration.modelName = entry.name
            configuration.aliases = [:]
            configuration.fallbackModel = nil
        } else if let list, let first = list.first {
            if configuration.model != defaultSource, let listLayer {
                // `model` came from an earlier layer than the list: the list's first entry is the default.
                configuration.model = defaultSource
                configuration.sources["model"] = layers[listLayer].source == "environment" ? "INSTRUCTREC_MODELS" : layers[listLayer].source
                if layers[listLayer].source == "flag" { configuration.flagSpellings["model"] = flagSpellings["models"] ?? "--model" }
            }
            configuration.modelName = first.name
            configuration.additionalModels = Array(list.dropFirst())
        }
        configuration.inputs = inputs
        configuration.modelHubID = inputs.localSources.first { $0.value == configuration.model }?.key
        configuration.warnings = unknownVariableWarnings(environment) + configuration.retiredWarnings
        try configuration.validate()
        try configuration.validateModelNames()
        // Every other model's settings are made now, so a bad entry stops the start naming itself.
        configuration.additionalConfigurations = try configuration.additionalModels.map { try configuration.configuration(for: $0) }
        return configuration
    }

    /// Names are unique; aliases are names of no model and point at one; the fallback is served.
    func validateModelNames() throws {
        let names = [modelName] + additionalModels.map(\.name)
        var seen: Set<String> = []
        for name in names where !seen.insert(name).inserted {
            throw Invalid(setting: "models", reason: "two models are named '\(name)'; each needs its own name", source: origin(of: "models"))
        }
        for (alias, target) in aliases.sorted(by: { $0.key < $1.key }) {
            if seen.contains(alias) { throw Invalid(setting: "aliases", reason: "'\(alias)' is already a model's name", source: origin(of: "aliases")) }
            if !seen.contains(target) {
                throw Invalid(setting: "aliases", reason: "'\(alias)' points at '\(target)', which is not served (served: \(names.joined(separator: ", ")))",
                              source: origin(of: "aliases"))
            }
        }
        if let fallbackModel, !seen.contains(fallbackModel) {
            throw Invalid(setting: "fallback_model", reason: "'\(fallbackModel)' is not served (served: \(names.joined(separator: ", ")))",
                          source: origin(of: "fallback_model"))
        }
    }

    /// The `settings` objects of the config file's `models` entries, by model name.
    static func readModelEntrySettings(_ file: String) throws -> [String: [String: String?]] {
        guard let data = FileManager.default.contents(atPath: file), let json = try? JSONValue.parse(Array(data)),
              let models = json["models"] else { return [:] }
        return try ModelEntry.read(models, file: file).settings
    }

    /// One warning per INSTRUCTREC_* variable that is no setting (a typo is otherwise silently ignored).
    static func unknownVariableWarnings(_ environment: [String: String]) -> [String] {
        let settingNames: [String] = keys.map { "INSTRUCTREC_" + $0.uppercased() }
        let known: [String] = (settingNames + otherVariables).sorted()
        let unknown: [String] = environment.keys.filter { $0.hasPrefix("INSTRUCTREC_") && !known.contains($0) }.sorted()
        var warnings: [String] = []
        for name in unknown {
            var best = ""
            var bestDistance = Int.max
            for candidate in known {
                let distance = editDistance(candidate, name)
                if distance < bestDistance { best = candidate; bestDistance = distance }
            }
            let hint = bestDistance <= 3 ? " (did you mean \(best)?)" : ""
            warnings.append("\(name) is not an instructrec setting and is ignored\(hint)")
        }
        return warnings
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        var row = Array(0...y.count)
        for i in 1...max(1, x.count) where !x.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: y.count, by: 1) {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (x[i - 1] == y[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return x.isEmpty ? y.count : row[y.count]
    }

    /// A flat JSON object of settings as key -> text; keys outside `allowed` are refused, naming the file.
    /// Parsed as request bodies are (`JSONValue`), so malformed JSON is reported with its byte offset.
    static func readJSONSettings(_ file: String, allowed: [String]) throws -> [(String, String?)] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw Invalid(setting: "config", reason: "cannot read \(file)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(Array(data)) } catch {
            throw Invalid(setting: "config", reason: "\(file): malformed JSON at byte \(error.offset): \(error.message)")
        }
        guard case let .object(members) = json else {
            throw Invalid(setting: "config", reason: "\(file) is not a JSON object")
        }
        return try members.sorted(by: { $0.0 < $1.0 }).filter { !informationalKeys.contains($0.0) || !allowed.contains($0.0) }.map { key, value in
            guard allowed.contains(key) else {
                let hint = allowed == modelBoundKeys ? " (a model directory may set only \(modelBoundKeys.joined(separator: ", ")))" : ""
                throw Invalid(setting: key, reason: "unknown setting in \(file)\(hint)")
            }
            if key == "models" { return (key, try ModelEntry.read(value, file: file).text) }
            if key == "aliases", case let .object(pairs) = value {
                // alias -> model name, as "alias=model,..." (what INSTRUCTREC_ALIASES and --set aliases= take)
                return (key, try pairs.map { alias, target -> String in
                    guard case let .string(name) = target else { throw Invalid(setting: key, reason: "\(file): '\(alias)' must map to a model name") }
                    return "\(alias)=\(name)"
                }.joined(separator: ","))
            }
            if key == "relevance_reference_titles", case let .array(elements) = value {
                // a list of titles, which may hold commas: one per line
                return (key, try elements.map { element -> String in
                    guard case let .string(title) = element, !title.contains("\n") else {
                        throw Invalid(setting: key, reason: "\(file): must be a list of one-line strings")
                    }
                    return title
                }.joined(separator: "\n"))
            }
            return (key, settingText(value))
        }
    }

    /// A setting's value as the text `apply` reads: null is unset; a list joins with commas;
    /// an integral number has no ".0" (8080, not 8080.0).
    static func settingText(_ value: JSONValue) -> String? {
        switch value {
        case .null: return nil
        case let .bool(flag): return flag ? "true" : "false"
        case let .string(text): return text
        case let .number(number): return number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case let .array(elements): return elements.map { settingText($0) ?? "null" }.joined(separator: ",")
        // no setting takes an object: `apply` refuses this text, quoting it
        case .object: return "{…}"
        }
    }

    mutating func apply(_ key: String, _ raw: String?) throws {
        func int(_ low: Int, _ high: Int) throws -> Int {
            guard let raw, let value = Int(raw.trimmingCharacters(in: .whitespaces)), value >= low, value <= high else {
                throw Invalid(setting: key, reason: "must be an integer in \(low)...\(high), got '\(raw ?? "null")'")
            }
            return value
        }
        func double(_ low: Double, _ high: Double) throws -> Double {
            guard let raw, let value = Double(raw.trimmingCharacters(in: .whitespaces)), value >= low, value <= high else {
                throw Invalid(setting: key, reason: "must be a number in \(low)...\(high), got '\(raw ?? "null")'")
            }
            return value
        }
        func text() throws -> String {
            guard let raw, !raw.isEmpty else { throw Invalid(setting: key, reason: "must not be empty") }
            return raw
        }
        func bool() throws -> Bool {
            guard let raw, ["true", "false", "1", "0"].contains(raw.lowercased()) else {
                throw Invalid(setting: key, reason: "must be true or false, got '\(raw ?? "null")'")
            }
            return raw.lowercased() == "true" || raw == "1"
        }
        func optionalText() -> String? { raw.flatMap { $0.isEmpty || $0 == "null" ? nil : $0 } }
        /// One of an enum's raw values, case-insensitively.
        func choice<Value: RawRepresentable & CaseIterable>(_ type: Value.Type) throws -> Value where Value.RawValue == String {
            guard let raw, let value = Value(rawValue: raw.lowercased()) else {
                throw Invalid(setting: key, reason: "must be one of \(Value.allCases.map(\.rawValue).joined(separator: ", ")), got '\(raw ?? "null")'")
            }
            return value
        }
        func weight() throws -> Float {
            Float(try double(Double(Scoring.priorWeightRange.lowerBound), Double(Scoring.priorWeightRange.upperBound)))
        }
        switch key {
        case "host": host = try text()
        case "port": port = try int(0, 65535)
        case "model": model = try text()
        case "tokenizer": tokenizer = optionalText()
        case "templates": templates = try text()
        case "workers": workers = try int(1, 64)
        case "threads_per_worker": threadsPerWorker = try int(1, 256)
        case "queue_capacity": queueCapacity = try int(1, 100_000)
        case "max_batch_requests": maxBatchRequests = try int(1, 1024)
        case "max_batch_tokens": maxBatchTokens = try int(1, 1 << 24)
        case "batch_wait_ms": batchWaitMilliseconds = try int(0, 1000)
        case "request_timeout_ms": requestTimeoutMilliseconds = try int(1, 3_600_000)
        case "max_input_tokens": maxInputTokens = try int(16, 65536)
        case "max_target_tokens": maxTargetTokens = try int(1, 4096)
        case "max_history_title_tokens": maxHistoryTitleTokens = try int(1, 4096)
        case "max_candidates": maxCandidates = try int(1, 10_000)
        case "max_history_items": maxHistoryItems = try int(0, 100_000)
        case "max_text_chars": maxTextCharacters = try int(1, 1_000_000)
        case "max_body_bytes": maxBodyBytes = try int(1024, 1 << 30)
        case "max_connections": maxConnections = try int(1, 1_000_000)
        case "api_keys":
            apiKeys = (raw ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            // Set to separators and spaces alone: the operator meant keys and would get an open service.
            if apiKeys.isEmpty, let raw, !raw.trimmingCharacters(in: .whitespaces).isEmpty {
                throw Invalid(setting: key, reason: "holds no key, only separators; leave it empty (or unset) for no keys")
            }
            if let short = apiKeys.first(where: { $0.count < 16 }) {
                throw Invalid(setting: key, reason: "each key needs at least 16 characters ('\(short.prefix(3))...' is shorter)")
            }
        case "tls_cert": tlsCertificate = optionalText()
        case "tls_key": tlsKey = optionalText()
        case "drain_delay_s": drainDelaySeconds = try double(0, 600)
        case "shutdown_deadline_s": shutdownDeadlineSeconds = try double(0.1, 3600)
        case "idle_timeout_s": idleTimeoutSeconds = try double(0.1, 86400)
        case "log_requests": logRequests = try bool()
        case "reserve_scratch": reserveScratch = try bool()
        case "weights_dtype": weightsDType = try choice(WeightsDType.self)
        case "scoring": scoringMode = try choice(Scoring.Mode.self)
        case "prior_weight": priorWeight = try weight()
        case "query_prior_weight": queryPriorWeight = optionalText() == nil ? nil : try weight()
        case "unfamiliar_prior_weight", "familiarity_threshold":
            if let reason = Self.retiredKeys[key], optionalText() != nil, !retiredWarnings.contains(where: { $0.hasPrefix(key) }) {
                retiredWarnings.append("\(key) is no longer read and is ignored: \(reason)")
            }
        case "instruction_form": instructionForm = try choice(InstructionForm.self)
        case "relevance": relevanceMode = try choice(Relevance.Mode.self)
        case "relevance_scale": relevanceScale = try double(1e-6, 1e6)
        case "relevance_bias": relevanceBias = try double(-1e6, 1e6)
        case "query_relevance_scale": queryRelevanceScale = optionalText() == nil ? nil : try double(1e-6, 1e6)
        case "query_relevance_bias": queryRelevanceBias = optionalText() == nil ? nil : try double(-1e6, 1e6)
        case "exclude_history": excludeHistory = try bool()
        case "relevance_reference_titles":
            // A JSON list in a file; one title per line in a variable or flag (titles hold commas).
            relevanceReferenceTitles = (raw ?? "").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if relevanceReferenceTitles.count > 256 {
                throw Invalid(setting: key, reason: "at most 256 titles, got \(relevanceReferenceTitles.count)")
            }
        case "prior_cache_entries": priorCacheEntries = try int(0, 100_000_000)
        case "prior_cache_mb": priorCacheMegabytes = try int(0, 1 << 20)
        case "context_cache_mb": contextCacheMegabytes = try int(0, 1 << 20)
        case "prior_catalog": priorCatalog = optionalText()
        case "scorer": scorer = try choice(ScorerKind.self)
        case "yes_no_template": yesNoTemplate = optionalText()
        case "yes_token": yesToken = optionalText()
        case "no_token": noToken = optionalText()
        case "models": modelList = optionalText() == nil ? nil : try ModelEntry.parseList(raw ?? "")
        case "aliases":
            aliases = [:]
            for pair in (raw ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, ModelEntry.isName(parts[0]), ModelEntry.isName(parts[1]) else {
                    throw Invalid(setting: key, reason: "expects alias=model pairs separated by commas, got '\(pair)'")
                }
                aliases[parts[0]] = parts[1]
            }
        case "fallback_model": fallbackModel = optionalText()
        default: throw Invalid(setting: key, reason: "unknown setting")
        }
    }

    func validate() throws {
        func invalid(_ setting: String, _ reason: String) -> Invalid { Invalid(setting: setting, reason: reason, source: origin(of: setting)) }
        if (tlsCertificate == nil) != (tlsKey == nil) {
            let (missing, present) = tlsCertificate == nil ? ("tls_cert", "tls_key") : ("tls_key", "tls_cert")
            throw Invalid(setting: missing, reason: "tls_cert and tls_key must be set together (\(present) is set by \(origin(of: present)))")
        }
        for (setting, path) in [("tls_cert", tlsCertificate), ("tls_key", tlsKey)] {
            if let path, !FileManager.default.fileExists(atPath: path) { throw invalid(setting, "\(path) does not exist") }
        }
        var isDirectory: ObjCBool = false
        // A hub id (org/name[@revision], no such directory) is checked when it is fetched, before the model loads.
        guard HubModelID(model) != nil || (FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) && isDirectory.boolValue) else {
            throw invalid("model", "\(model) is not a directory, nor a hub id (org/name[@revision]) (working directory: \(FileManager.default.currentDirectoryPath))")
        }
        guard FileManager.default.fileExists(atPath: templates) else {
            throw invalid("templates", "\(templates) does not exist")
        }
        if let priorCatalog, !FileManager.default.fileExists(atPath: priorCatalog) {
            throw invalid("prior_catalog", "\(priorCatalog) does not exist")
        }
        if scorer != .yesNo {
            for key in ["yes_no_template", "yes_token", "no_token"] where sources[key].map({ $0 != "default" }) ?? false {
                throw invalid(key, "applies only to scorer yes_no (the scorer is \(scorer.rawValue), from \(origin(of: "scorer")))")
            }
        }
        if (queryRelevanceScale == nil) != (queryRelevanceBias == nil) {
            let (missing, present) = queryRelevanceScale == nil ? ("query_relevance_scale", "query_relevance_bias") : ("query_relevance_bias", "query_relevance_scale")
            throw Invalid(setting: missing, reason: "query_relevance_scale and query_relevance_bias must be set together (\(present) is set by \(origin(of: present)))")
        }
        // Titles are decoder targets only for likelihood models (pointwise ones read one decoder step).
        if scorer == .likelihood && maxTargetTokens >= maxInputTokens {
            throw invalid("max_target_tokens", "must be smaller than max_input_tokens (\(maxInputTokens), from \(origin(of: "max_input_tokens")))")
        }
    }

    public var httpConfiguration: HTTPServerConfiguration {
        var http = HTTPServerConfiguration()
        http.host = host
        http.port = port
        http.maxConnections = maxConnections
        http.limits.maxBodyBytes = maxBodyBytes
        http.maxDecompressedBodyBytes = maxBodyBytes * 4
        http.tlsCertificatePath = tlsCertificate
        http.tlsKeyPath = tlsKey
        http.drainDelay = drainDelaySeconds
        http.shutdownDeadline = shutdownDeadlineSeconds
        http.idleTimeout = idleTimeoutSeconds
        return http
    }

    public var instructionOptions: InstructionOptions {
        var options = InstructionOptions()
        options.maxInputTokens = maxInputTokens
        options.maxTargetTokens = maxTargetTokens
        options.maxHistoryTitleTokens = maxHistoryTitleTokens
        options.maxHistoryItems = maxHistoryItems
        options.form = instructionForm
        return options
    }

    /// The scoring of a request that names none.
    public var defaultScoring: Scoring {
        Scoring(mode: scoringMode, priorWeight: priorWeight, queryPriorWeight: queryPriorWeight)
    }

    /// relevance_score's default meaning with the model's fitted logistics (history and query contexts).
    public var relevance: Relevance {
        Relevance(mode: relevanceMode, scale: relevanceScale, bias: relevanceBias, queryScale: queryRelevanceScale, queryBias: queryRelevanceBias)
    }

    public var priorCacheBytes: Int { priorCacheMegabytes << 20 }

    /// What the ranking pipeline is configured by (the model-bound settings, the prior cache, the pass size).
    public var rankingSettings: RankingSettings {
        var settings = RankingSettings()
        settings.templates = templates
        settings.instruction = instructionOptions
        settings.scoring = defaultScoring
        settings.relevance = relevance
        settings.excludeHistory = excludeHistory
        settings.relevanceReferenceTitles = relevanceReferenceTitles
        settings.scorer = scorer
        settings.yesNoTemplate = yesNoTemplate
        settings.yesToken = yesToken
        settings.noToken = noToken
        settings.priorCacheEntries = priorCacheEntries
        settings.priorCacheBytes = priorCacheBytes
        settings.maxGroupTokens = maxBatchTokens
        return settings
    }

    /// The ranking pipeline these settings describe. A pointwise scorer's tokens are resolved here: a bad
    /// one is a start-up error naming the key and its file.
    public func makePipeline(tokenizer: Tokenizer) throws -> RankPipeline {
        do { return try RankPipeline(settings: rankingSettings, tokenizer: tokenizer) } catch let error as PointwiseScorer.Invalid {
            throw Invalid(setting: error.key, reason: error.reason, source: origin(of: error.key))
        }
    }
}
