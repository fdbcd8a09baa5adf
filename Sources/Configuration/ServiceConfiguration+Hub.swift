import Foundation
import HTTP
import Hub

extension ServiceConfiguration {
    /// The settings with every hub id among the model sources made local: fetched into the cache
    /// `huggingface_hub` uses, or found there (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE from
    /// `environment`). Progress goes to the log. A failure is a configuration error naming the repository and
    /// the file, and the setting that named the model.
    public func fetchingHubModels(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceConfiguration {
        guard !hubSources.isEmpty else { return self }
        let fetcher = HubFetcher(environment: environment) { message, fields in JSONLog.shared.info(message, fields) }
        do {
            return try resolvingHubSources { id in
                JSONLog.shared.info("fetching model", ["repository": id.repository, "revision": id.revision,
                                                       "cache": fetcher.cache.root.path, "offline": fetcher.offline])
                return try fetcher.snapshot(id)
            }
        } catch let error as HubError {
            let setting = additionalModels.isEmpty ? "model" : "models"
            throw Invalid(setting: setting, reason: error.description, source: origin(of: setting))
        }
    }
}
