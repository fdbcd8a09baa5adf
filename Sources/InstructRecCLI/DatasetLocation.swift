import ArgumentParser
import Evaluation
import Foundation

/// The interaction dataset of `eval` and `instructions`: `--data DIR` as given (relative to the working
/// directory, as any path typed on the command line), else the default directory found the way `serve`
/// finds its files (`ConfigurationLocation`): from the working directory, then from the repository
/// around the config file and the binary, so either command runs from any directory.
enum DatasetLocation {
    /// relative to the repository root: a `shared/data/games` folder beside the checkout
    static let defaultDirectory = "../shared/data/games"

    /// The dataset, or a message on standard error that says what is missing, where it was looked for and
    /// how to point at it, then exit status 2.
    static func load(data: String?, prefix: String) throws -> InteractionDataset {
        let directory: String
        let origin: String
        if let data {
            directory = data
            origin = "--data \(data) (working directory \(FileManager.default.currentDirectoryPath))"
        } else {
            let bases = ConfigurationLocation.baseDirectories(configFile: try ConfigurationLocation.configFile(explicit: nil))
            guard let found = ConfigurationLocation.locate(defaultDirectory, bases: bases) else {
                let searched = ConfigurationLocation.candidates(defaultDirectory, bases: bases)
                throw failure("""
                    no dataset directory: --data was not given and the default \(defaultDirectory) (taken from the repository root) is in none of
                    \(searched.map { "  " + $0 }.joined(separator: "\n"))
                    Point at the directory that holds \(prefix).item and \(prefix)-6k.test.inter with --data DIR.
                    \(filesHelp(prefix))
                    """)
            }
            directory = found
            origin = "the default \(defaultDirectory), found at \(found)"
        }
        do { return try InteractionDataset(directory: URL(fileURLWithPath: directory), prefix: prefix) } catch {
            throw failure("\(error)\nThe dataset directory came from \(origin); point at another with --data DIR.\n\(filesHelp(prefix))")
        }
    }

    /// What the files hold and where they come from.
    static func filesHelp(_ prefix: String) -> String {
        """
        The dataset's files (--prefix \(prefix)):
          \(prefix).item            item_id<TAB>title
          \(prefix)-6k.test.inter   user_id<TAB>history item ids<TAB>last item (\(prefix).test.inter is accepted too)
        These are the Amazon Review Data (2018) "Video Games" 5-core files, not in the repository. Build them from the public review and metadata files with scripts/data/convert_amazon2018.py; scripts/data/README.md says where to download them and gives the exact command.
        """
    }

    /// The message on standard error; the exit status to throw (2, as a configuration error).
    private static func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        return ExitCode(2)
    }
}
