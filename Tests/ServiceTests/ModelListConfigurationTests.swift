@testable import Configuration
import Foundation
import XCTest

/// How models are named: `models` (NAME=SOURCE list, or the config file's entries with their own settings),
/// which layer wins, and what reaches which model.
final class ModelListConfigurationTests: XCTestCase {
    static let tiny = ServiceProcess.modelDirectory
    static let mono = PointwiseScorerTests.fixture("monot5-tiny")

    func file(_ json: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("models-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func testOneBareModelIsTheDefaultAsAlways() throws {
        let configuration = try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["model": Self.tiny])
        XCTAssertEqual(configuration.modelName, "default")
        XCTAssertEqual(configuration.additionalModels, [])
        XCTAssertEqual(try configuration.modelConfigurations().map(\.model), [Self.tiny])
    }

    func testTheListNamesEveryModelAndTheFirstIsTheDefault() throws {
        let configuration = try ServiceConfiguration.load(file: nil, environment: [:], overrides: [
            "models": "base=\(Self.tiny),mono=\(Self.mono)", "max_input_tokens": "300", "templates": ServiceProcess.templatesFile,
            "tokenizer": ServiceProcess.tokenizerFile,
        ], flagSpellings: ["models": "--model"])
        let all = try configuration.modelConfigurations()
        XCTAssertEqual(all.map(\.modelName), ["base", "mono"])
        XCTAssertEqual(all.map(\.model), [Self.tiny, Self.mono])
        XCTAssertEqual(configuration.origin(of: "model"), "--model")
        // Top-level model-bound settings and files reach the default only.
        XCTAssertEqual(all[0].maxInputTokens, 300)
        XCTAssertEqual(all[1].maxInputTokens, 64, "mono's own instructrec.json, not the top level's 300")
        XCTAssertEqual(all[1].sources["max_input_tokens"], Self.mono + "/instructrec.json")
        XCTAssertEqual(all[1].scorer, .monot5, "mono's own instructrec.json")
        XCTAssertEqual(all[0].tokenizer, ServiceProcess.tokenizerFile)
        XCTAssertNil(all[1].tokenizer, "mono reads its own directory's tokenizer")
        // Process settings are shared.
        XCTAssertEqual(all[1].workers, configuration.workers)
        XCTAssertEqual(all[1].port, configuration.port)
    }

    func testConfigFileEntriesCarryTheirOwnSettings() throws {
        let path = try file("""
        {"models": [{"name": "base", "source": "\(Self.tiny)"},
                    {"name": "mono", "source": "\(Self.mono)", "settings": {"max_input_tokens": 256}},
                    "third=\(Self.tiny)"],
         "max_input_tokens": 300, "templates": "\(ServiceProcess.templatesFile)", "tokenizer": "\(ServiceProcess.tokenizerFile)",
         "aliases": {"rerank-v3.5": "mono"}, "fallback_model": "base"}
        """)
        let configuration = try ServiceConfiguration.load(file: path, environment: [:], overrides: [:])
        let all = try configuration.modelConfigurations()
        XCTAssertEqual(all.map(\.modelName), ["base", "mono", "third"])
        XCTAssertEqual(all.map(\.maxInputTokens), [300, 256, 512], "the top level's, the entry's over mono's own 64, the built-in default")
        XCTAssertEqual(all[1].sources["max_input_tokens"], path, "the entry's setting names the file it came from")
        XCTAssertEqual(configuration.aliases, ["rerank-v3.5": "mono"])
        XCTAssertEqual(configuration.fallbackModel, "base")
    }

    func testTheEnvironmentsModelReplacesTheDefaultsSourceAndFlagsReplaceTheList() throws {
        let path = try file(#"{"models": ["base=\#(Self.tiny)", "mono=\#(Self.mono)"]}"#)
        let environment = try ServiceConfiguration.load(file: path, environment: ["INSTRUCTREC_MODEL": Self.mono], overrides: [:])
        XCTAssertEqual(try environment.modelConfigurations().map(\.model), [Self.mono, Self.mono], "INSTRUCTREC_MODEL: the default's source")
        XCTAssertEqual(try environment.modelConfigurations().map(\.modelName), ["base", "mono"])
        let flags = try ServiceConfiguration.load(file: path, environment: ["INSTRUCTREC_MODELS": "x=\(Self.tiny)"],
                                                  overrides: ["models": "y=\(Self.mono)"])
        XCTAssertEqual(try flags.modelConfigurations().map(\.modelName), ["y"], "flags over the environment over the file, whole lists")
    }

    func testNamesAliasesAndTheFallbackAreChecked() throws {
        func refusal(_ overrides: [String: String]) -> String {
            do { _ = try ServiceConfiguration.load(file: nil, environment: [:], overrides: overrides); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(refusal(["models": "a=\(Self.tiny),a=\(Self.mono)"]).contains("two models are named 'a'"))
        XCTAssertTrue(refusal(["models": "a=\(Self.tiny),b=\(Self.mono)", "aliases": "x=c"]).contains("'x' points at 'c', which is not served"))
        XCTAssertTrue(refusal(["models": "a=\(Self.tiny),b=\(Self.mono)", "aliases": "b=a"]).contains("'b' is already a model's name"))
        XCTAssertTrue(refusal(["models": "a=\(Self.tiny),b=\(Self.mono)", "fallback_model": "c"]).contains("'fallback_model'"))
        XCTAssertTrue(refusal(["models": "a=\(Self.tiny),b=/nonexistent/model"]).contains("'model'"), "a missing source names the setting")
        let path = try file(#"{"models": [{"name": "m", "source": "\#(Self.tiny)", "settings": {"port": 1}}]}"#)
        XCTAssertThrowsError(try ServiceConfiguration.load(file: path, environment: [:], overrides: [:])) { error in
            XCTAssertTrue("\(error)".contains("'port' cannot be set per model"), "\(error)")
        }
    }

    func testNameEqualsSourceParsing() {
        XCTAssertEqual(ModelEntry.named("mono=/models/mono"), ModelEntry(name: "mono", source: "/models/mono"))
        XCTAssertNil(ModelEntry.named("models/default"), "a bare source")
        XCTAssertNil(ModelEntry.named("/a/b=c"), "a path is no name")
        XCTAssertEqual(ModelEntry.named("rerank-v3.5=dir")?.name, "rerank-v3.5")
    }
}
