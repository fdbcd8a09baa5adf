import Configuration
import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// Model reload without downtime (SIGHUP, POST /admin/reload): a new `ServingModel` beside the serving one,
/// one model at a time; the other models serve on.
extension RerankService {
    /// Metrics that describe a serving model.
    func announce(_ model: ServingModel) {
        let labels = ["model": model.name]
        metrics.modelLoadSeconds.set(model.loadSeconds, labels)
        metrics.modelLoadedAt.set(model.loadedAt.timeIntervalSince1970, labels)
        metrics.setModel(model.identity)
        metrics.setPriorCache(model.pipeline.priors, model: model.name)
        let engine = model.engine
        metrics.setContextCache(model: model.name) { engine.contextCacheCounts }
        metrics.reloads.increment(labels, by: 0)
        metrics.reloadFailures.increment(labels, by: 0)
    }

    /// What a reload did to one model.
    public enum ReloadOutcome: Sendable {
        /// the new version serves; its content hash
        case switched(hash: String, seconds: Double)
        /// SIGHUP only: its files and settings had not changed, so it was not loaded again
        case unchanged(hash: String)
        /// the old version keeps serving; why the new one did not load
        case failed(String)

        var failure: String? { if case let .failed(reason) = self { return reason } else { return nil } }
    }

    public struct ModelReloadReport: Sendable {
        public let model: String
        public let outcome: ReloadOutcome
    }

    /// What a reload request ended with.
    public enum ReloadResult: Sendable {
        /// each model it was asked to reload, in served order
        case done([ModelReloadReport])
        /// another reload is running; this one was not started
        case alreadyRunning
    }

    /// Loads models again in the background, one after the other, each warmed beside its serving version and
    /// then switched in atomically: `model` names one (nil: every model). `onlyChanged` (SIGHUP) skips a model
    /// whose files (content hash) and settings are as they were. Requests already planned finish on the
    /// version they took (its queue is stopped, its waiting jobs still run), which is freed after them. A load
    /// that fails keeps that model's previous version serving, is logged and counted
    /// (`instructrec_model_reload_failures_total{model}`); the other models are not touched. Both versions of
    /// a model are in memory while the new one loads.
    ///
    /// The configuration is read again (`reloadConfiguration`), so an edited instructrec.json applies; models
    /// added to or removed from it take a restart.
    public func reload(model name: String? = nil, onlyChanged: Bool = false, completion: (@Sendable (ReloadResult) -> Void)? = nil) {
        stateLock.lock()
        if reloadInProgress { stateLock.unlock(); completion?(.alreadyRunning); return }
        reloadInProgress = true
        stateLock.unlock()
        reloading.async { [self] in
            var reports: [ModelReloadReport] = []
            let served = models
            let targets = served.names.filter { name == nil || $0 == name }
            var fresh: [String: ServiceConfiguration] = [:]
            var readError: Error?
            do {
                if let reloadConfiguration {
                    // A hub id is looked up again: a branch that moved brings its new commit.
                    for settings in try reloadConfiguration().fetchingHubModels().modelConfigurations() { fresh[settings.modelName] = settings }
                }
            } catch { readError = error }
            for target in targets {
                guard let old = models.model(named: target) else { continue }
                let outcome = reloadOne(old, readError.map { .failure($0) } ?? .success(fresh[target] ?? old.configuration),
                                        onlyChanged: onlyChanged)
                reports.append(ModelReloadReport(model: target, outcome: outcome))
            }
            stateLock.lock(); reloadInProgress = false; stateLock.unlock()
            completion?(.done(reports))
        }
    }

    private func reloadOne(_ old: ServingModel, _ settings: Result<ServiceConfiguration, Error>, onlyChanged: Bool) -> ReloadOutcome {
        let started = DispatchTime.now()
        let labels = ["model": old.name]
        do {
            let configuration = try settings.get()
            if onlyChanged, try ServingModel.contentHash(of: configuration) == old.contentHash,
               settingFingerprint(configuration) == settingFingerprint(old.configuration) {
                return .unchanged(hash: old.contentHash)
            }
            let model = try ServingModel(configuration: configuration, metrics: metrics, pool: pool)
            stateLock.lock()
            let (updated, replaced) = registry.replacing(with: model)
            registry = updated
            stateLock.unlock()
            replaced?.queue.stop()
            announce(model)
            metrics.reloads.increment(labels)
            JSONLog.shared.info("model reloaded", ["model": model.name, "source": configuration.model, "sha256": model.contentHash,
                                                   "previous_sha256": old.contentHash,
                                                   "load_ms": (milliseconds(started, .now()) * 100).rounded() / 100])
            return .switched(hash: model.contentHash, seconds: milliseconds(started, .now()) / 1e3)
        } catch {
            metrics.reloadFailures.increment(labels)
            JSONLog.shared.error("model reload failed; the previous model keeps serving",
                                 ["model": old.name, "error": String(describing: error)])
            return .failed(String(describing: error))
        }
    }

    /// A model's effective settings as text (what /info shows), to tell whether a reload would change them.
    func settingFingerprint(_ configuration: ServiceConfiguration) -> String {
        settingValues(configuration).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
    }
}
