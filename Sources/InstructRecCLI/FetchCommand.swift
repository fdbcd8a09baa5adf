import ArgumentParser
import Configuration
import Foundation
import HTTP

/// `instructrec fetch`: every hub model the configuration names (`--model org/name[@revision]`, repeatable
/// as for `serve`), fetched into the cache `huggingface_hub` uses and nothing else — what an init container
/// runs so the serving container can start with HF_HUB_OFFLINE=1. Prints each snapshot directory.
struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch the hub models serve would load into the Hugging Face cache (HF_HOME), then exit.")

    @OptionGroup var options: ModelOptions

    func run() throws {
        let configuration = try options.load()
        guard !configuration.hubSources.isEmpty else {
            FileHandle.standardError.write(Data("Error: no model source is a hub id (org/name[@revision]); nothing to fetch\n".utf8))
            throw ExitCode.validationFailure
        }
        let fetched: ServiceConfiguration
        do { fetched = try configuration.fetchingHubModels() } catch {
            JSONLog.shared.error("fetch failed", ["error": "\(error)"])
            throw ExitCode(1)
        }
        for model in try fetched.modelConfigurations() where model.modelHubID != nil {
            print("\(model.modelName)\t\(model.modelHubID ?? "")\t\(model.model)")
        }
    }
}
