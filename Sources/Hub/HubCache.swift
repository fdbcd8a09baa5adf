import Foundation

/// The model cache `huggingface_hub` keeps, read and written the same way, so a cache either tool filled
/// serves the other:
///
///     $HF_HUB_CACHE (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface)
///       models--org--name/
///         blobs/<etag>                    the file's bytes, named by its ETag (LFS files: their SHA-256)
///         refs/<revision>                 the commit a branch or tag resolved to (text, no newline)
///         snapshots/<commit>/<file>       a relative symbolic link to ../../blobs/<etag>
///
/// (`huggingface_hub/constants.py` and `file_download.py`.) Files are written under a temporary name and
/// renamed into `blobs/`, and linked into `snapshots/` only once whole, so an interrupted fetch leaves
/// nothing a reader could take for a file.
public struct HubCache: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// The cache `huggingface_hub` would use with this environment: HF_HUB_CACHE, else HF_HOME/hub, else
    /// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
    public init(environment: [String: String]) {
        if let hub = environment["HF_HUB_CACHE"], !hub.isEmpty {
            root = URL(fileURLWithPath: Self.expand(hub, environment))
        } else if let home = environment["HF_HOME"], !home.isEmpty {
            root = URL(fileURLWithPath: Self.expand(home, environment)).appendingPathComponent("hub")
        } else {
            let cache = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : Self.expand($0, environment) }
                ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.cache")
            root = URL(fileURLWithPath: cache).appendingPathComponent("huggingface/hub")
        }
    }

    static func expand(_ path: String, _ environment: [String: String]) -> String {
        path.hasPrefix("~/") ? (environment["HOME"] ?? NSHomeDirectory()) + path.dropFirst() : path
    }

    public func folder(_ id: HubModelID) -> URL { root.appendingPathComponent(id.cacheFolder) }
    func blob(_ id: HubModelID, etag: String) -> URL { folder(id).appendingPathComponent("blobs/\(etag)") }
    func ref(_ id: HubModelID, _ revision: String) -> URL { folder(id).appendingPathComponent("refs/\(revision)") }
    public func snapshot(_ id: HubModelID, commit: String) -> URL { folder(id).appendingPathComponent("snapshots/\(commit)") }

    /// The commit `id`'s revision names in the cache: the revision itself when it is a commit, else its ref.
    public func cachedCommit(_ id: HubModelID) -> String? {
        if id.revisionIsCommit { return id.revision }
        guard let data = FileManager.default.contents(atPath: ref(id, id.revision).path) else { return nil }
        let commit = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }

    /// Records the commit a branch or tag resolved to.
    func storeRef(_ id: HubModelID, commit: String) throws {
        guard !id.revisionIsCommit || id.revision != commit else { return }
        let path = ref(id, id.revision)
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Self.replace(path, with: Data(commit.utf8))
    }

    /// Links `snapshots/<commit>/<file>` to its blob (a relative link, as `huggingface_hub` makes it).
    func link(_ id: HubModelID, commit: String, file: String, etag: String) throws {
        let target = snapshot(id, commit: commit).appendingPathComponent(file)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let depth = file.split(separator: "/").count - 1
        let relative = String(repeating: "../", count: depth + 2) + "blobs/\(etag)"
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: target.path)) == relative { return }
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.createSymbolicLink(atPath: target.path, withDestinationPath: relative)
    }

    /// Writes `data` beside `path` and renames it into place.
    static func replace(_ path: URL, with data: Data) throws {
        let temporary = path.deletingLastPathComponent().appendingPathComponent(".\(path.lastPathComponent).\(UUID().uuidString).tmp")
        try data.write(to: temporary)
        guard rename(temporary.path, path.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path.path])
        }
    }
}
