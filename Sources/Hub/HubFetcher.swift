import Foundation
import HTTP

/// Makes a hub model a local directory: the snapshot in the `huggingface_hub` cache, fetched when needed.
///
/// Only what the engine reads is fetched: `config.json`; the weights (`model.safetensors`, or
/// `model.safetensors.index.json` and the shards its `weight_map` names); `tokenizer.json`, else
/// `spiece.model`; and `instructrec.json` and `templates.json` when the repository has them.
/// A file whose blob is cached is linked, not fetched again; a file is fetched to a temporary name beside
/// the blobs, checked against the hub's SHA-256 when it gives one, and only then renamed into `blobs/` and
/// linked into `snapshots/`. With HF_HUB_OFFLINE=1 nothing is requested: the cached snapshot serves, or the
/// start stops naming what is missing.
public struct HubFetcher: Sendable {
    public let cache: HubCache
    public let client: HubClient
    public let offline: Bool
    /// progress and decisions, as (message, fields): at most one progress line a second
    public let log: @Sendable (String, [String: Any]) -> Void

    public init(cache: HubCache, client: HubClient, offline: Bool, log: @escaping @Sendable (String, [String: Any]) -> Void) {
        self.cache = cache
        self.client = client
        self.offline = offline
        self.log = log
    }

    /// From the environment, as `huggingface_hub` reads it (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN,
    /// HF_HUB_OFFLINE).
    public init(environment: [String: String], log: @escaping @Sendable (String, [String: Any]) -> Void) {
        let offline = ["1", "true", "yes", "on"].contains((environment["HF_HUB_OFFLINE"] ?? "").lowercased())
        self.init(cache: HubCache(environment: environment), client: HubClient(environment: environment), offline: offline, log: log)
    }

    /// The files of a repository listing that the engine reads.
    static func wanted(in files: [String]) -> (required: [String], weights: String?, optional: [String]) {
        let present = Set(files)
        var required = ["config.json"]
        var weights: String?
        if present.contains("model.safetensors") { weights = "model.safetensors" }
        else if present.contains("model.safetensors.index.json") { weights = "model.safetensors.index.json" }
        if let weights { required.append(weights) }
        if present.contains("tokenizer.json") { required.append("tokenizer.json") } else if present.contains("spiece.model") { required.append("spiece.model") }
        return (required, weights, ["instructrec.json", "templates.json"].filter(present.contains))
    }

    /// The local snapshot directory of `id`, fetched into the cache as needed.
    public func snapshot(_ id: HubModelID) throws -> URL {
        if offline { return try cachedSnapshot(id) }
        let started = Date()
        let info = try client.send("GET", client.endpoint.appendingPathComponent("api/models/\(id.repository)/revision/\(id.revision)"))
        try check(info, id, file: nil, revisionLookup: true)
        guard let json = try? JSONSerialization.jsonObject(with: info.body) as? [String: Any], let commit = json["sha"] as? String,
              !commit.isEmpty, !commit.contains("/"), !commit.contains("..") else {
            throw HubError.transfer(repository: id.repository, file: nil, reason: "the hub's model info names no commit (sha)")
        }
        let listed = try files(id, commit: commit, info: json)
        let (required, weights, optional) = Self.wanted(in: listed)
        guard listed.contains("config.json") else { throw HubError.notAModel(repository: id.repository, reason: "it has no config.json") }
        guard let weights else {
            throw HubError.notAModel(repository: id.repository, reason: "it has no model.safetensors or model.safetensors.index.json")
        }
        var files = required + optional
        var fetched = Progress()
        for file in files { try fetch(id, commit: commit, file: file, progress: &fetched, total: files.count) }
        if weights.hasSuffix(".index.json") {
            let index = cache.snapshot(id, commit: commit).appendingPathComponent(weights)
            let shards = try Self.shards(of: index, id)
            for shard in shards { try fetch(id, commit: commit, file: shard, progress: &fetched, total: files.count + shards.count) }
            files += shards
        }
        try cache.storeRef(id, commit: commit)
        log("model fetched", ["repository": id.repository, "revision": id.revision, "commit": commit, "files": files.count,
                              "bytes_fetched": fetched.bytes, "seconds": (Date().timeIntervalSince(started) * 100).rounded() / 100,
                              "snapshot": cache.snapshot(id, commit: commit).path])
        return cache.snapshot(id, commit: commit)
    }

    /// The repository's files at `commit`: the model info's `siblings` when it lists them, else the tree listing
    /// (`/api/models/{repo}/tree/{commit}?recursive=true`, what `huggingface_hub`'s snapshot_download reads).
    func files(_ id: HubModelID, commit: String, info: [String: Any]) throws -> [String] {
        if let siblings = info["siblings"] as? [[String: Any]], !siblings.isEmpty {
            return siblings.compactMap { $0["rfilename"] as? String }
        }
        var tree = URLComponents(url: client.endpoint.appendingPathComponent("api/models/\(id.repository)/tree/\(commit)"),
                                 resolvingAgainstBaseURL: false)
        tree?.queryItems = [URLQueryItem(name: "recursive", value: "true")]
        guard let url = tree?.url else { throw HubError.transfer(repository: id.repository, file: nil, reason: "no tree URL") }
        let listing = try client.send("GET", url)
        try check(listing, id, file: nil, revisionLookup: true)
        guard let entries = try? JSONSerialization.jsonObject(with: listing.body) as? [[String: Any]] else {
            throw HubError.transfer(repository: id.repository, file: nil, reason: "the hub's file list is no JSON list")
        }
        return entries.filter { ($0["type"] as? String ?? "file") == "file" }.compactMap { $0["path"] as? String }
    }

    /// The cached snapshot, without a request: it must hold config.json and the weights.
    func cachedSnapshot(_ id: HubModelID) throws -> URL {
        guard let commit = cache.cachedCommit(id) else { throw HubError.offlineMiss(repository: id.repository, file: nil, cache: cache.root.path) }
        let directory = cache.snapshot(id, commit: commit)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let (required, weights, _) = Self.wanted(in: names)
        guard names.contains("config.json") else { throw HubError.offlineMiss(repository: id.repository, file: "config.json", cache: cache.root.path) }
        guard let weights else { throw HubError.offlineMiss(repository: id.repository, file: "model.safetensors", cache: cache.root.path) }
        for file in required where !FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path) {
            throw HubError.offlineMiss(repository: id.repository, file: file, cache: cache.root.path)
        }
        if weights.hasSuffix(".index.json") {
            for shard in try Self.shards(of: directory.appendingPathComponent(weights), id)
            where !FileManager.default.fileExists(atPath: directory.appendingPathComponent(shard).path) {
                throw HubError.offlineMiss(repository: id.repository, file: shard, cache: cache.root.path)
            }
        }
        log("model from the cache", ["repository": id.repository, "revision": id.revision, "commit": commit, "offline": true,
                                     "snapshot": directory.path])
        return directory
    }

    /// The shard files a safetensors index names.
    static func shards(of index: URL, _ id: HubModelID) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: index.path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let map = json["weight_map"] as? [String: String] else {
            throw HubError.notAModel(repository: id.repository, reason: "\(index.lastPathComponent) has no weight_map")
        }
        return Set(map.values).sorted()
    }

    struct Progress { var bytes: Int64 = 0; var files = 0; var lastLog = Date.distantPast }

    /// One file: its metadata (HEAD), its blob fetched unless cached, its snapshot link.
    private func fetch(_ id: HubModelID, commit: String, file: String, progress: inout Progress, total: Int) throws {
        let url = client.endpoint.appendingPathComponent("\(id.repository)/resolve/\(commit)/\(file)")
        let head = try client.send("HEAD", url)
        try check(head, id, file: file, revisionLookup: false)
        let linked = head.header("X-Linked-Etag")
        guard let etag = Self.normalized(linked ?? head.header("ETag")) else {
            throw HubError.transfer(repository: id.repository, file: file, reason: "the hub sent no ETag")
        }
        let blob = cache.blob(id, etag: etag)
        if !FileManager.default.fileExists(atPath: blob.path) {
            try FileManager.default.createDirectory(at: blob.deletingLastPathComponent(), withIntermediateDirectories: true)
            let partial = blob.deletingLastPathComponent().appendingPathComponent("\(etag).\(UUID().uuidString).incomplete")
            defer { try? FileManager.default.removeItem(at: partial) }
            let before = progress
            nonisolated(unsafe) var shown = progress.lastLog
            let log = self.log
            // A large file's HEAD answered with the store's address: fetch from there (without the token, another
            // host), as huggingface_hub does, instead of asking the hub again.
            let source = (300..<400).contains(head.status)
                ? head.header("Location").flatMap { URL(string: $0, relativeTo: url)?.absoluteURL } ?? url : url
            let response: HubClient.Response
            do {
                response = try client.send("GET", source, downloadTo: partial) { written, expected in
                    guard Date().timeIntervalSince(shown) >= 1 else { return }
                    shown = Date()
                    log("fetching model", ["repository": id.repository, "file": file, "file_bytes": written, "file_size": expected,
                                           "bytes": before.bytes + written, "files_done": before.files, "files": total])
                }
            } catch {
                throw HubError.transfer(repository: id.repository, file: file, reason: "\(error)")
            }
            try check(response, id, file: file, revisionLookup: false)
            // A large file's ETag is its SHA-256 (its LFS object id): the bytes must match it.
            if linked != nil, etag.count == 64 {
                let got = try ContentDigest.sha256(file: partial.path)
                guard got == etag else { throw HubError.checksum(repository: id.repository, file: file, expected: etag, got: got) }
            }
            guard rename(partial.path, blob.path) == 0 else {
                throw HubError.transfer(repository: id.repository, file: file, reason: "cannot move the download into \(blob.path)")
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: blob.path)[.size] as? Int64) ?? 0
            progress.bytes += size ?? 0
            progress.lastLog = shown
        }
        progress.files += 1
        try cache.link(id, commit: commit, file: file, etag: etag)
    }

    /// ETags as `huggingface_hub` names blobs by them: without quotes and without a weak prefix.
    static func normalized(_ etag: String?) -> String? {
        guard var value = etag?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if value.hasPrefix("W/") { value.removeFirst(2) }
        value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard !value.isEmpty, !value.contains("/"), !value.contains("..") else { return nil }
        return value
    }

    /// The hub's refusals, by status and `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo).
    private func check(_ response: HubClient.Response, _ id: HubModelID, file: String?, revisionLookup: Bool) throws {
        let status = response.status
        if (200..<400).contains(status) { return }
        let code = response.header("X-Error-Code") ?? ""
        switch (status, code) {
        case (_, "RepoNotFound"): throw HubError.unknownRepository(id.repository)
        case (_, "RevisionNotFound"): throw HubError.unknownRevision(repository: id.repository, revision: id.revision)
        case (_, "EntryNotFound"): throw HubError.unknownFile(repository: id.repository, file: file ?? "")
        case (401, _), (403, _), (_, "GatedRepo"): throw HubError.refused(repository: id.repository, file: file, status: status)
        case (404, _):
            if revisionLookup { throw HubError.unknownRepository(id.repository) }
            throw HubError.unknownFile(repository: id.repository, file: file ?? "")
        default:
            throw HubError.transfer(repository: id.repository, file: file, reason: "HTTP \(status)")
        }
    }
}
