import Foundation
import XCTest
@testable import Configuration
@testable import Hub
@testable import Service

/// Models by hub id, against a local hub that speaks the protocol: fetched into the cache `huggingface_hub`
/// uses, laid out as it lays it out, served offline from it; the token never reaches the file store; an
/// interrupted fetch leaves no file behind; refusals name the repository and the file.
final class HubModelTests: XCTestCase {
    static let fixture = PointwiseScorerTests.fixture("monot5-tiny")
    var hub: LocalHub!
    var home: URL!

    override func setUpWithError() throws {
        hub = try LocalHub()
        home = FileManager.default.temporaryDirectory.appendingPathComponent("hf-home-\(UUID().uuidString)")
        var files: [String: Data] = [:]
        for name in ["config.json", "model.safetensors", "tokenizer.json", "instructrec.json", "golden.json"] {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: Self.fixture).appendingPathComponent(name))
        }
        files["README.md"] = Data("# a model card the engine does not read\n".utf8)
        hub.add("acme/monot5-tiny", files: files, commit: "0123456789abcdef0123456789abcdef01234567")
    }

    override func tearDown() {
        hub.stop()
        try? FileManager.default.removeItem(at: home)
    }

    var environment: [String: String] { ["HF_HOME": home.path, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": ""] }
    var folder: URL { home.appendingPathComponent("hub/models--acme--monot5-tiny") }
    let commit = "0123456789abcdef0123456789abcdef01234567"

    func serve(_ source: String = "acme/monot5-tiny", _ extra: [String: String] = [:]) throws -> InProcessService {
        try InProcessService(files: ["model": source], environment: environment.merging(extra) { $1 })
    }

    func testAHubIdIsFetchedIntoTheHuggingFaceCacheAndServed() throws {
        let service = try serve()
        let body = #"{"query": "a castle game", "documents": ["Castle of Illusion", "HDMI Cable 6ft"]}"#
        let reply = try service.request("POST", "/v2/rerank", body: body)
        XCTAssertEqual(reply.status, 200, reply.body)
        // The same answers as the fixture directory served as it is.
        let local = try InProcessService(files: ["model": Self.fixture])
        XCTAssertEqual(reply.json?["results"] as? NSArray, try local.request("POST", "/v2/rerank", body: body).json?["results"] as? NSArray)
        // No tokenizer set anywhere (the repository's config says null): /info says it is the model directory's.
        let localSettings = try local.request("GET", "/info").json?["settings"] as? [String: [String: Any]]
        XCTAssertEqual(localSettings?["tokenizer"]?["source"] as? String, "the model directory")
        // huggingface_hub's layout: refs/main, snapshots/<commit>/<file> -> ../../blobs/<etag>
        XCTAssertEqual(try String(contentsOf: folder.appendingPathComponent("refs/main"), encoding: .utf8), commit)
        let snapshot = folder.appendingPathComponent("snapshots/\(commit)")
        let names = try FileManager.default.contentsOfDirectory(atPath: snapshot.path).sorted()
        XCTAssertEqual(names, ["config.json", "instructrec.json", "model.safetensors", "tokenizer.json"], "only what the engine reads")
        let weights = try Data(contentsOf: URL(fileURLWithPath: Self.fixture).appendingPathComponent("model.safetensors"))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent("model.safetensors").path),
                       "../../blobs/\(LocalHub.sha256(weights))")
        let config = try Data(contentsOf: URL(fileURLWithPath: Self.fixture).appendingPathComponent("config.json"))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent("config.json").path),
                       "../../blobs/\(LocalHub.gitBlobID(config))")
        let blobs = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("blobs").path)
        XCTAssertFalse(blobs.contains { $0.contains("incomplete") })
        // /info names the hub id, and the model's own instructrec.json applied (its scorer).
        let model = try XCTUnwrap(try service.request("GET", "/info").json?["model"] as? [String: Any])
        XCTAssertEqual(model["source"] as? String, "acme/monot5-tiny")
        XCTAssertEqual(model["scorer"] as? String, "monot5")
        XCTAssertTrue(service.logEntries("model fetched").contains { $0["repository"] as? String == "acme/monot5-tiny" })
        // A large file is asked of the hub once (HEAD, its 302 names the store), then fetched from the store.
        XCTAssertFalse(hub.requests("hub").contains { $0.hasPrefix("GET ") && $0.hasSuffix("/model.safetensors") }, "\(hub.requests("hub"))")
        XCTAssertTrue(hub.requests("store").contains { $0.hasPrefix("GET /blobs/") })

        // A second start fetches nothing large again: every blob is cached (only the metadata is asked).
        let storeRequests = hub.requests("store").count
        service.terminate()
        _ = try serve()
        XCTAssertEqual(hub.requests("store").count, storeRequests)

        // Offline, with the hub gone: the cache serves.
        hub.stop()
        let offline = try serve("acme/monot5-tiny", ["HF_HUB_OFFLINE": "1"])
        XCTAssertEqual(try offline.request("POST", "/v2/rerank", body: body).status, 200)
    }

    func testTheTokenGoesToTheHubAndNeverToTheFileStore() throws {
        hub.requiredToken = "hf_secret_token_0123"
        _ = try serve("acme/monot5-tiny", ["HF_TOKEN": "hf_secret_token_0123"])
        XCTAssertFalse(hub.authorizations("hub").isEmpty)
        XCTAssertTrue(hub.authorizations("hub").allSatisfy { $0 == "Bearer hf_secret_token_0123" })
        XCTAssertFalse(hub.authorizations("store").isEmpty, "large files came from the store")
        XCTAssertTrue(hub.authorizations("store").allSatisfy { $0 == nil }, "\(hub.authorizations("store"))")
        // Without the token the hub refuses, and the start says so naming the repository.
        try? FileManager.default.removeItem(at: home)
        XCTAssertThrowsError(try serve()) { error in
            XCTAssertTrue("\(error)".contains("refused acme/monot5-tiny") && "\(error)".contains("HF_TOKEN"), "\(error)")
        }
    }

    func testAnInterruptedFetchLeavesNoFileAndTheNextStartCompletes() throws {
        hub.dropNextLargeFile = true
        XCTAssertThrowsError(try serve()) { error in
            XCTAssertTrue("\(error)".contains("acme/monot5-tiny/"), "names the repository and the file: \(error)")
        }
        let snapshot = folder.appendingPathComponent("snapshots/\(commit)")
        let linked = (try? FileManager.default.contentsOfDirectory(atPath: snapshot.path)) ?? []
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("blobs").path)) ?? []
        XCTAssertFalse(blobs.contains { $0.contains("incomplete") }, "\(blobs)")
        for name in linked {
            let target = snapshot.appendingPathComponent(name).resolvingSymlinksInPath()
            XCTAssertTrue(FileManager.default.fileExists(atPath: target.path), "\(name) links to a whole blob")
        }
        XCTAssertFalse(linked.contains("model.safetensors") && linked.contains("tokenizer.json"), "the dropped file is not linked: \(linked)")
        let service = try serve()
        XCTAssertEqual(try service.request("POST", "/v2/rerank", body: #"{"query": "q", "documents": ["a"]}"#).status, 200)
    }

    /// A hub whose model info lists no files: the tree listing names them.
    func testTheTreeListingServesWhenTheModelInfoListsNoFiles() throws {
        hub.listsSiblings = false
        let service = try serve()
        XCTAssertEqual(try service.request("POST", "/v2/rerank", body: #"{"query": "q", "documents": ["a"]}"#).status, 200)
        XCTAssertTrue(hub.requests("hub").contains { $0.hasPrefix("GET /api/models/acme/monot5-tiny/tree/\(commit)") }, "\(hub.requests("hub"))")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("snapshots/\(commit)").path).sorted()
        XCTAssertEqual(names, ["config.json", "instructrec.json", "model.safetensors", "tokenizer.json"])
    }

    func testRefusalsNameTheRepositoryAndTheFile() throws {
        XCTAssertThrowsError(try serve("acme/nope")) { error in
            XCTAssertTrue("\(error)".contains("acme/nope") && "\(error)".contains("not found"), "\(error)")
        }
        XCTAssertThrowsError(try serve("acme/monot5-tiny@v9")) { error in
            XCTAssertTrue("\(error)".contains("no revision 'v9'"), "\(error)")
        }
        XCTAssertThrowsError(try serve("acme/monot5-tiny", ["HF_HUB_OFFLINE": "1"])) { error in
            XCTAssertTrue("\(error)".contains("HF_HUB_OFFLINE") && "\(error)".contains("acme/monot5-tiny"), "\(error)")
        }
        hub.add("acme/cards-only", files: ["README.md": Data("hi".utf8), "config.json": Data("{}".utf8)])
        XCTAssertThrowsError(try serve("acme/cards-only")) { error in
            XCTAssertTrue("\(error)".contains("acme/cards-only") && "\(error)".contains("model.safetensors"), "\(error)")
        }
    }

    /// `instructrec fetch` (an init container's command) fills the cache; `score` then runs offline from it.
    func testTheFetchCommandFillsTheCacheForAnOfflineStart() throws {
        func run(_ arguments: [String], _ extra: [String: String], stdin: String = "") throws -> (Int32, String, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try ServiceProcess.binary)
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment.merging(extra) { $1 }) { $1 }
            let out = Pipe(), err = Pipe(), input = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, output, log)
        }
        let (status, output, log) = try run(["fetch", "--model", "mono=acme/monot5-tiny"], [:])
        XCTAssertEqual(status, 0, log)
        XCTAssertEqual(output, "mono\tacme/monot5-tiny\t\(folder.path)/snapshots/\(commit)\n")
        hub.stop()
        let (scored, answer, scoreLog) = try run(["score", "--model", "acme/monot5-tiny", "--endpoint", "v2/rerank"], ["HF_HUB_OFFLINE": "1"],
                                                 stdin: #"{"query": "castle", "documents": ["Castle of Illusion", "Tetris"]}"#)
        XCTAssertEqual(scored, 0, scoreLog)
        XCTAssertTrue(answer.contains("relevance_score"), answer)
        let (nothing, _, message) = try run(["fetch", "--model", Self.fixture], [:])
        XCTAssertNotEqual(nothing, 0)
        XCTAssertTrue(message.contains("nothing to fetch"), message)
    }

    func testHubIdsAndAnExistingDirectory() {
        XCTAssertEqual(HubModelID("acme/monot5-tiny@v1")?.revision, "v1")
        XCTAssertEqual(HubModelID("castorini/monot5-base-msmarco")?.cacheFolder, "models--castorini--monot5-base-msmarco")
        XCTAssertNil(HubModelID("models/default"), "an existing directory always wins")
        XCTAssertNil(HubModelID("/abs/path"))
        XCTAssertNil(HubModelID("a/b/c"))
        XCTAssertNil(HubModelID("../x"))
        XCTAssertEqual(HubCache(environment: ["HF_HUB_CACHE": "/c/hub", "HF_HOME": "/h"]).root.path, "/c/hub")
        XCTAssertEqual(HubCache(environment: ["HF_HOME": "/h"]).root.path, "/h/hub")
        XCTAssertEqual(HubCache(environment: ["HOME": "/home/u"]).root.path, "/home/u/.cache/huggingface/hub")
    }
}
