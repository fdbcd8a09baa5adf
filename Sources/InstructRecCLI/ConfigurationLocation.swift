import ArgumentParser
import Foundation

/// Where every subcommand finds its files when run from any directory, as `serve` does:
/// the working directory first, then the directories around the config file and the binary
/// (a checkout's .build/<triple>/<config>/instructrec has the repository four levels up).
enum ConfigurationLocation {
    static let defaultConfig = "config/instructrec.json"

    /// The binary's directory and its ancestors, nearest first.
    static var binaryAncestors: [String] {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments.first ?? ""
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent().standardizedFileURL
        var result: [String] = []
        for _ in 0..<5 {
            result.append(directory.path)
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        return result
    }

    /// The config file to read: an explicit --config must exist; the default is looked
    /// for in the working directory, then around the binary; nil when there is none.
    static func configFile(explicit: String?) throws -> String? {
        if let explicit {
            guard FileManager.default.fileExists(atPath: explicit) else {
                throw ValidationError("configuration file \(explicit) (from --config) does not exist")
            }
            return explicit
        }
        if FileManager.default.fileExists(atPath: defaultConfig) { return defaultConfig }
        return binaryAncestors.map { URL(fileURLWithPath: $0).appendingPathComponent(defaultConfig).path }
            .first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Where relative default paths (and relative paths in the file) are resolved when the
    /// working directory does not have them: beside the config file, the directory above
    /// its config/ folder, then around the binary.
    static func baseDirectories(configFile: String?) -> [String] {
        var bases: [String] = []
        if let configFile {
            let directory = URL(fileURLWithPath: configFile).standardizedFileURL.deletingLastPathComponent()
            bases += [directory.deletingLastPathComponent().path, directory.path]
        }
        return bases + binaryAncestors
    }

    /// Where a relative default path is looked for, nearest first: from the working directory, then
    /// from each base directory (standardized absolute paths, each once). An absolute path is itself.
    static func candidates(_ path: String, bases: [String]) -> [String] {
        if path.hasPrefix("/") { return [path] }
        let working = FileManager.default.currentDirectoryPath
        var seen: Set<String> = []
        return ([working] + bases).map { URL(fileURLWithPath: $0).appendingPathComponent(path).standardizedFileURL.path }
            .filter { seen.insert($0).inserted }
    }

    /// A relative default path found the way `serve` finds its defaults (`candidates`); nil when none exists.
    static func locate(_ path: String, bases: [String]) -> String? {
        candidates(path, bases: bases).first { FileManager.default.fileExists(atPath: $0) }
    }
}
