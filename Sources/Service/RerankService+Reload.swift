import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// Model reload without downtime (SIGHUP, POST /admin/reload): a new `ServingModel` beside the serving one.
extension RerankService {
    /// Metrics that describe the serving model.
    func announce(_ model: ServingModel) {
        metrics.modelLoadSeconds.set(model.loadSeconds)
        metrics.modelLoadedAt.set(model.loadedAt.timeIntervalSince1970)
        metrics.setModel(model.identity)
        metrics.priorCache = model.pipeline.priors
    }

    /// What a reload ended with.
    public enum ReloadOutcome: Sendable {
        /// the new model serves; its content hash
        case switched(hash: String, seconds: Double)
        /// the old model keeps serving; why the new one did not load
        case failed(String)
        /// another reload is running; this one was not started
        case alreadyRunning
    }

    /// SIGHUP and POST /admin/reload: loads the configured model directory in the background, warms it,
    /// then switches new requests to it atomically. Requests already planned finish on the old model
    /// (its queue is stopped, its waiting jobs still run), which is freed after them. A load that fails
    /// keeps the old model serving, is logged and counted (`instructrec_model_reload_failures_total`).
    /// Both models are in memory while the new one loads.
    public func reload(completion: (@Sendable (ReloadOutcome) -> Void)? = nil) {
        stateLock.lock()
        if reloadInProgress { stateLock.unlock(); completion?(.alreadyRunning); return }
        reloadInProgress = true
        stateLock.unlock()
        reloading.async { [self] in
            let started = DispatchTime.now()
            let outcome: ReloadOutcome
            do {
                let configuration = try reloadConfiguration?() ?? current.configuration
                let model = try ServingModel(configuration: configuration, metrics: metrics)
                stateLock.lock()
                let old = serving
                serving = model
                stateLock.unlock()
                old.queue.stop()
                announce(model)
                metrics.reloads.increment()
                outcome = .switched(hash: model.contentHash, seconds: milliseconds(started, .now()) / 1e3)
                JSONLog.shared.info("model reloaded", ["model": configuration.model, "sha256": model.contentHash,
                                                       "previous_sha256": old.contentHash,
                                                       "load_ms": (milliseconds(started, .now()) * 100).rounded() / 100])
            } catch {
                metrics.reloadFailures.increment()
                outcome = .failed(String(describing: error))
                JSONLog.shared.error("model reload failed; the previous model keeps serving", ["error": String(describing: error)])
            }
            stateLock.lock(); reloadInProgress = false; stateLock.unlock()
            completion?(outcome)
        }
    }
}
