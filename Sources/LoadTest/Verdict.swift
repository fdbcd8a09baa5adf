import ArgumentParser

/// The last lines of an operational test: "NAME: PASS", or each breach and "NAME: FAIL" (with `detail`, e.g.
/// where the logs are) and a non-zero exit.
enum Verdict {
    static func finish(_ name: String, breaches: [String], detail: String? = nil) throws {
        if breaches.isEmpty {
            print("\(name): PASS")
            return
        }
        for breach in breaches { print("BREACH: \(breach)") }
        print("\(name): FAIL" + (detail.map { " (\($0))" } ?? ""))
        throw ExitCode(1)
    }
}
