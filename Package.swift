// swift-tools-version:6.0
// instructrec: InstructRec (Zhang et al. 2023) reranking behind HTTP.
//
// Module layering (each depends only on those listed before it):
//   COpenBLAS -> T5 (engine; GEMM.swift is the only file importing COpenBLAS)
//   Tokenizer (SentencePiece unigram; knows nothing of T5)
//   InstructRecCLI (the `instructrec` executable: wiring and flags only)
//
// No package dependencies: the build machines reach Debian and PyPI only, so
// the CLI parses its own flags instead of pulling swift-argument-parser.
import PackageDescription

let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "instructrec",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "instructrec", targets: ["InstructRecCLI"]),
        .library(name: "T5", targets: ["T5"]),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "T5", dependencies: ["COpenBLAS"], swiftSettings: optimize),
        .executableTarget(name: "InstructRecCLI", dependencies: ["T5"], swiftSettings: optimize),
        .testTarget(name: "T5Tests", dependencies: ["T5"], resources: [.copy("Fixtures")]),
    ]
)
