import Foundation
import XCTest

/// No Docker engine runs on the build machines, so this proves the runtime
/// stage of docker/Dockerfile is complete another way: every shared library
/// `ldd` lists for the `instructrec` binary must come from a Debian package
/// that the runtime stage installs by name, or from the Swift runtime
/// directory it copies out of the build stage. (This machine and both image
/// stages are Debian 12, so `dpkg -S` names the same packages the image gets.)
final class RuntimeImageTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testRuntimeStageProvidesEveryLibraryTheBinaryLoads() throws {
        let dockerfile = try RuntimeStage(dockerfile: String(contentsOf: Self.root.appendingPathComponent("docker/Dockerfile"), encoding: .utf8))
        XCTAssertFalse(dockerfile.packages.isEmpty, "no apt-get install found in the runtime stage")

        var binaries = [try Self.builtBinary()]
        // `make test` builds debug; check the release binary too when one exists (it is what the image ships).
        let release = Self.root.appendingPathComponent(".build/release/instructrec").path
        if FileManager.default.isExecutableFile(atPath: release) { binaries.append(release) }

        for binary in binaries {
            let libraries = try Self.sharedLibraries(of: binary)
            XCTAssertGreaterThan(libraries.count, 3, "ldd listed too few libraries for \(binary)")
            var missing: [String] = []
            for library in libraries {
                let resolved = URL(fileURLWithPath: library.path).resolvingSymlinksInPath().path
                if resolved.contains("/lib/swift/linux/") {
                    if !dockerfile.copiesSwiftRuntime(fileName: URL(fileURLWithPath: resolved).lastPathComponent) {
                        missing.append("\(library.name) (Swift runtime, \(resolved)): not copied into the runtime stage")
                    }
                    continue
                }
                guard let package = try Self.owningPackage(of: resolved) else {
                    missing.append("\(library.name) (\(resolved)): no Debian package owns it")
                    continue
                }
                if !dockerfile.packages.contains(package) {
                    missing.append("\(library.name) (\(resolved)): package \(package) is not installed in the runtime stage")
                }
            }
            print("ldd \(binary): \(libraries.count) libraries; runtime stage installs \(dockerfile.packages.sorted().joined(separator: " "))")
            XCTAssertEqual(missing, [], "docker/Dockerfile runtime stage is incomplete for \(binary)")
        }
    }

    func testRuntimeStageIsNonRootWithHealthcheckAndExecEntrypoint() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docker/Dockerfile"), encoding: .utf8)
        let stage = try RuntimeStage(dockerfile: text)
        XCTAssertTrue(stage.lines.contains { $0.hasPrefix("USER ") && !$0.contains("root") }, "runtime stage must switch to a non-root user")
        XCTAssertTrue(stage.lines.contains { $0.hasPrefix("HEALTHCHECK ") && $0.contains("/readyz") })
        XCTAssertTrue(stage.lines.contains { $0.hasPrefix("ENTRYPOINT [") }, "entrypoint must be exec form so SIGTERM reaches the server")
        XCTAssertTrue(stage.lines.contains { $0.hasPrefix("COPY models/default") })
        XCTAssertTrue(stage.lines.contains { $0.hasPrefix("VOLUME ") })
        // Every INSTRUCTREC_* variable the image sets must be a real setting.
        let configuration = try String(contentsOf: Self.root.appendingPathComponent("config/instructrec.json"), encoding: .utf8)
        for line in stage.lines where line.hasPrefix("ENV ") {
            for word in line.split(separator: " ") where word.hasPrefix("INSTRUCTREC_") {
                let key = word.dropFirst("INSTRUCTREC_".count).prefix { $0 != "=" }.lowercased()
                XCTAssertTrue(configuration.contains("\"\(key)\""), "ENV \(word) is not a setting in config/instructrec.json")
            }
        }
    }

    // MARK: helpers

    struct Library { let name: String; let path: String }

    static func builtBinary() throws -> String {
        let bundle = Bundle(for: RuntimeImageTests.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("instructrec").path }
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("instructrec binary not built beside the tests (\(candidates)); run `make test`")
        }
        return path
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)`; vdso and the loader have no `=>` path.
    static func sharedLibraries(of binary: String) throws -> [Library] {
        let (status, output) = try run("/usr/bin/ldd", [binary])
        XCTAssertEqual(status, 0, "ldd \(binary) failed")
        var libraries: [Library] = []
        for line in output.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 3, parts[1] == "=>" else { continue }
            if parts[2] == "not" { XCTFail("ldd: \(line)"); continue }
            libraries.append(Library(name: String(parts[0]), path: String(parts[2])))
        }
        return libraries
    }

    /// The Debian package owning a file, as `dpkg -S` reports it (tried with the
    /// merged-/usr and the /lib spelling of the path).
    static func owningPackage(of path: String) throws -> String? {
        var spellings = [path]
        if path.hasPrefix("/usr/lib/") { spellings.append(String(path.dropFirst(4))) }
        if path.hasPrefix("/lib/") { spellings.append("/usr" + path) }
        for spelling in spellings {
            let (status, output) = try run("/usr/bin/dpkg", ["-S", spelling])
            guard status == 0, let line = output.split(separator: "\n").first, let colon = line.firstIndex(of: ":") else { continue }
            // "libssl3:amd64: /usr/lib/..." or "zlib1g: /usr/lib/..."
            let package = line[..<colon]
            return String(package)
        }
        return nil
    }
}

/// The last stage of a Dockerfile: its instructions (continuation lines
/// joined), the packages its `apt-get install` names, and what it copies
/// from the build stage.
struct RuntimeStage {
    let lines: [String]
    let packages: Set<String>
    let copiedFromBuild: [(source: String, destination: String)]

    init(dockerfile: String) throws {
        var joined: [String] = []
        var current = ""
        for raw in dockerfile.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if current.isEmpty && (line.isEmpty || line.hasPrefix("#")) { continue }
            if line.hasPrefix("#") { continue }
            if line.hasSuffix("\\") { current += line.dropLast() + " "; continue }
            joined.append(current + line)
            current = ""
        }
        guard let start = joined.lastIndex(where: { $0.uppercased().hasPrefix("FROM ") }) else {
            throw XCTSkip("Dockerfile has no FROM")
        }
        lines = Array(joined[start...])
        var packages = Set<String>()
        var copies: [(String, String)] = []
        for line in lines {
            if line.hasPrefix("RUN "), let install = line.range(of: "apt-get install") {
                let rest = line[install.upperBound...].prefix { $0 != "&" && $0 != ";" }
                for word in rest.split(separator: " ") where !word.hasPrefix("-") { packages.insert(String(word)) }
            }
            if line.hasPrefix("COPY "), line.contains("--from=build") {
                let words = line.split(separator: " ").filter { !$0.hasPrefix("--") && $0 != "COPY" }
                if words.count >= 2 { copies.append((String(words[0]), String(words[words.count - 1]))) }
            }
        }
        self.packages = packages
        copiedFromBuild = copies
    }

    /// Whether a Swift runtime library (by file name) is covered by a
    /// `COPY --from=build /usr/lib/swift/linux/<glob>` line.
    func copiesSwiftRuntime(fileName: String) -> Bool {
        copiedFromBuild.contains { copy in
            guard copy.source.hasPrefix("/usr/lib/swift/linux/") else { return false }
            let pattern = String(copy.source.dropFirst("/usr/lib/swift/linux/".count))
            return fnmatch(pattern, fileName, 0) == 0
        }
    }
}
