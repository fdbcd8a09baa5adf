import Configuration
import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// One loaded model and everything bound to it: its name, the engine (weights), the pipeline (tokenizer,
/// templates, scoring settings, prior cache), its inference queue on the shared workers, the scorer of
/// in-process calls, what requests may name (templates) and what identifies it (content hash, load time).
///
/// The service holds one per served name (`ModelRegistry`); a reload builds a new one beside it, warms
/// it, and switches new requests to it atomically (`RerankService.reload`). A request takes its model
/// once, at its start, and plans, scores and ranks with that one: no request mixes two models. The old
/// model's queue is stopped (its waiting jobs still run on it) and its memory goes with its last job.
final class ServingModel: @unchecked Sendable {
    /// the name requests route by
    let name: String
    let configuration: ServiceConfiguration
    /// the model's engine (T5 today: the one line that builds it is the loading initializer's)
    let engine: any ScoringModel
    let pipeline: RankPipeline
    let queue: InferenceQueue
    /// `instructrec score`'s scorer (and catalog warm-up), one call at a time
    let directScorer: any CandidateScorer
    let directLock = NSLock()
    /// what the shapes accept: configured limits and the template names
    let limits: RequestLimits
    /// SHA-256 over the model directory's files (`ContentDigest`), and when loading finished
    let contentHash: String
    let loadedAt: Date
    let loadSeconds: Double
    /// prior_catalog: titles read, priors computed, seconds (nil without a catalog)
    private(set) var priorWarmUp: (titles: Int, computed: Int, seconds: Double)?

    /// Loads the weights and tokenizer of `configuration.model`, then builds the rest (`init(engine:...)`).
    convenience init(configuration: ServiceConfiguration, metrics: Metrics, pool: WorkerPool) throws {
        // The engine checks BLAS (whichever kernels run) before it loads the weights.
        let started = DispatchTime.now().uptimeNanoseconds
        let engine = try ScoringEngine(modelDirectory: configuration.model, weightsDType: configuration.weightsDType,
                                       contextCacheBytes: configuration.contextCacheMegabytes << 20)
        let tokenizer = try Tokenizer.load(path: configuration.tokenizer ?? configuration.model)
        try self.init(configuration: configuration, engine: engine, tokenizer: tokenizer,
                      loadSeconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, metrics: metrics, pool: pool)
    }

    /// With the engine and tokenizer in memory: pipeline, workers, one warm-up inference per scorer,
    /// the prior catalog. Throws errors that name the file or setting at fault.
    init(configuration: ServiceConfiguration, engine: any ScoringModel, tokenizer: Tokenizer, loadSeconds: Double, metrics: Metrics,
         pool: WorkerPool) throws {
        name = configuration.modelName
        self.configuration = configuration
        self.engine = engine
        if tokenizer.vocabularySize > engine.vocabularySize {
            throw ServiceConfiguration.Invalid(setting: "tokenizer",
                                               reason: "tokenizer has \(tokenizer.vocabularySize) ids but the model only \(engine.vocabularySize)")
        }
        // A tokenizer of another vocabulary (or one missing </s>, every id shifted) loads, and ranks garbage.
        if let end = engine.endOfSequenceID, tokenizer.eosID != end {
            throw ServiceConfiguration.Invalid(setting: "tokenizer",
                                               reason: "its </s> is id \(tokenizer.eosID), but the model ends sequences with id \(end) (config.json eos_token_id): it is not this model's tokenizer")
        }
        pipeline = try configuration.makePipeline(tokenizer: tokenizer)
        var limits = configuration.requestLimits
        limits.templates = pipeline.builder.templates.templates.keys.sorted()
        self.limits = limits
        contentHash = try Self.contentHash(of: configuration)
        // Each pass of a worker's scorer holds at most one full batch (max_batch_tokens), which bounds its
        // scratch. It grows to that bound as load needs it, or, with reserve_scratch, is sized for it at
        // start-up (resident memory flat from the start, at the price of holding the bound from the start).
        let scorers = (0..<pool.workerCount).map { _ in
            engine.makeScorer(threads: configuration.threadsPerWorker, passTokens: configuration.maxBatchTokens,
                              reserve: configuration.reserveScratch)
        }
        directScorer = engine.makeScorer(threads: configuration.threadsPerWorker, passTokens: configuration.maxBatchTokens)
        try Self.warmUp(pipeline, scorers + [directScorer])
        var batchLimits = configuration.batchLimits
        batchLimits.maxInstructionTokens = engine.maxInstructionTokensPerCall
        batchLimits.maxCandidateTokens = engine.maxCandidateTokensPerCall
        queue = InferenceQueue(pool: pool, scorers: scorers, capacity: configuration.queueCapacity, limits: batchLimits, metrics: metrics,
                               model: name)
        if let catalog = configuration.priorCatalog {
            do {
                let started = DispatchTime.now()
                let titles = try TitleCatalog.read(path: catalog)
                let computed = try pipeline.warmPriors(titles: titles, scorer: directScorer)
                priorWarmUp = (titles.count, computed, milliseconds(started, .now()) / 1e3)
            } catch {
                queue.stop()
                throw error
            }
        }
        self.loadSeconds = loadSeconds
        loadedAt = Date()
    }

    /// One inference per scorer so the first real request does not pay for page faults and workspace allocation.
    private static func warmUp(_ pipeline: RankPipeline, _ scorers: [any CandidateScorer]) throws {
        let query = RankQuery(context: UserContext(history: [Item(id: "w", title: "warm up")]),
                              candidates: [Item(id: "a", title: "first item"), Item(id: "b", title: "second item")])
        let context = pipeline.pointwise == nil ? query.context : UserContext(intention: "warm up")
        // A throwaway prior cache: warm-up titles are not the catalog's, and must not show in its metrics.
        let warmUpPipeline = RankPipeline(builder: pipeline.builder, defaultScoring: pipeline.defaultScoring, relevance: pipeline.relevance,
                                          priors: TitlePriorCache(maxEntries: 0), maxGroupTokens: pipeline.maxGroupTokens,
                                          pointwise: pipeline.pointwise)
        for scorer in scorers {
            let outcome = try warmUpPipeline.run(RankQuery(context: context, candidates: query.candidates), scorer: scorer)
            // Finite weights can still overflow in float32 (huge values, or activations that grow past 3.4e38):
            // such a model would answer every request with scores JSON cannot carry, so it never starts serving.
            if let bad = outcome.scores.first(where: { !$0.isFinite }) {
                throw ServiceConfiguration.Invalid(setting: "model",
                                                   reason: "its warm-up request scored \(bad): the weights overflow in float32, so every request would fail")
            }
        }
    }

    /// SHA-256 over the files that define what the model answers: every regular file of the model
    /// directory (sorted by name), and the tokenizer and templates files when they live elsewhere.
    static func contentHash(of configuration: ServiceConfiguration) throws -> String {
        let directory = URL(fileURLWithPath: configuration.model)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var files = names.sorted().map { directory.appendingPathComponent($0).path }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        for extra in [configuration.tokenizer, configuration.templates].compactMap({ $0 }) where !files.contains(extra) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: extra, isDirectory: &isDirectory), !isDirectory.boolValue { files.append(extra) }
        }
        do { return try ContentDigest.sha256(files: files) } catch {
            throw ServiceConfiguration.Invalid(setting: "model", reason: "cannot hash the model's files: \(error)")
        }
    }

    /// What /info and instructrec_model_info say about this model.
    var identity: [String: String] {
        ["model": name, "path": URL(fileURLWithPath: configuration.model).lastPathComponent, "sha256": contentHash,
         "scorer": pipeline.scorerKind.rawValue]
    }
}
