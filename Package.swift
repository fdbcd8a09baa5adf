// swift-tools-version:6.0
// instructrec: InstructRec (Zhang et al. 2023) reranking behind HTTP.
//
// Module layering (each depends only on those listed before it; docs/ARCHITECTURE.md has the why):
//   Randomness (SplitMix64: the one seeded generator, shared by T5, InstructRec and HTTP's request ids)
//   COpenBLAS, CQuantized, CPackedSGEMM, CThreadPlacement -> T5 (engine; GEMM.swift and BLASIdentity.swift are the
//            only files importing COpenBLAS, BLASPackedMatrix.swift the only one importing CPackedSGEMM;
//            HelperTeam.swift the only one importing CThreadPlacement)
//   Tokenizer (SentencePiece unigram; knows nothing of T5)
//   CHTTPShims (zlib + OpenSSL glue) -> HTTP (server; knows nothing of models)
//   InstructRec (templates, instruction fitting, ranking; owns the CandidateScorer protocol; knows nothing of T5)
//   T5Scoring (T5 behind CandidateScorer: engine set-up, error mapping; the only module that knows both)
//   Configuration (the settings in layers, the JSON reader: what serve, score and eval load)
//   Service (endpoints, JSON requests, inference queue, metrics: joins HTTP to InstructRec;
//            reaches the engine only through T5Scoring)
//   InstructRecCLI (the `instructrec` executable: wiring and flags only; no benchmark or test tooling)
//   InstructRecBench (the `instructrec-bench` executable: make bench, bench-tokenizer, bench-http)
//   LoadTest (the `instructrec-loadtest` executable: lb-test and soak against the real binary)
//   TestSupport (the loopback HTTP client of the tests and the end-to-end bench; never in a shipped binary)
//
// Package dependencies: swift-argument-parser (the CLI's subcommands and flags).
//
// Platform: Linux only (glibc). HTTP, the CLI and LoadTest use `Glibc.close`, `MSG_NOSIGNAL` and the
// like without `#if`, Service reads /proc, and OpenBLAS comes from pkg-config. There is no macOS
// build, so no `platforms:` entry claims one.
import PackageDescription

// Release builds: no overflow checks in the numeric loops, and AVX2+FMA
// (-target-cpu haswell: every x86 server CPU since 2013) so SIMD code is not lowered to SSE2.
#if arch(x86_64)
let cpuFlags = ["-target-cpu", "haswell"]
#else
let cpuFlags: [String] = []
#endif
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + cpuFlags, .when(configuration: .release))]
// Debug builds (the test suite) optimise the numeric modules too, overflow checks kept: unoptimised
// SIMD code runs 50-100x slower, and the suite's time went into the vocabulary's exp() rather than into
// what the tests check. The HTTP, configuration and service modules stay -Onone for the debugger.
let numeric: [SwiftSetting] = optimize + [.unsafeFlags(["-O"] + cpuFlags, .when(configuration: .debug))]

let package = Package(
    name: "instructrec",
    products: [
        .executable(name: "instructrec", targets: ["InstructRecCLI"]),
        .executable(name: "instructrec-bench", targets: ["InstructRecBench"]),
        .executable(name: "instructrec-loadtest", targets: ["LoadTest"]),
        .library(name: "T5", targets: ["T5"]),
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
        .library(name: "HTTP", targets: ["HTTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "Randomness", swiftSettings: numeric),
        // Int8 products (weights_dtype int8): our own kernels, chosen at run time from the CPU's features.
        // Optimised in debug builds too; no FMA contraction, so every path's F32 epilogue rounds alike.
        .target(name: "CQuantized", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-math-errno"])]),
        // Keeps the engine's helper threads off their caller's CPU (sched_getcpu, CPU_SET: macros Swift cannot call).
        .target(name: "CThreadPlacement"),
        // OpenBLAS's own sgemm kernel on weights packed at load (found by name at run time, hence libdl).
        .target(name: "CPackedSGEMM", cSettings: [.unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "T5", dependencies: ["COpenBLAS", "CQuantized", "CPackedSGEMM", "CThreadPlacement", "Randomness"], swiftSettings: numeric),
        .target(name: "Tokenizer", swiftSettings: numeric),
        .target(
            name: "CHTTPShims",
            linkerSettings: [.linkedLibrary("z"), .linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        .target(name: "HTTP", dependencies: ["CHTTPShims", "Randomness"], swiftSettings: optimize),
        .target(name: "InstructRec", dependencies: ["Tokenizer", "Randomness"], swiftSettings: numeric),
        // Offline evaluation and instruction data (datasets, baselines, protocols): beside the serving core, never in it.
        .target(name: "Evaluation", dependencies: ["InstructRec", "Tokenizer", "Randomness"], swiftSettings: numeric),
        .target(name: "T5Scoring", dependencies: ["T5", "InstructRec"], swiftSettings: numeric),
        // The deployment's settings in layers (and the JSON reader they share with request bodies): what
        // serve, score and eval load, without the service.
        // Model sources on a Hugging Face-style hub, fetched into the cache huggingface_hub uses
        // (FoundationNetworking's URLSession, which ships with the toolchain).
        .target(name: "Hub", dependencies: ["HTTP"], swiftSettings: optimize),
        .target(name: "Configuration", dependencies: ["HTTP", "Hub", "InstructRec", "T5Scoring", "Tokenizer"], swiftSettings: optimize),
        .target(name: "Service", dependencies: ["Configuration", "HTTP", "InstructRec", "T5Scoring", "Tokenizer"], swiftSettings: optimize),
        .executableTarget(
            name: "InstructRecCLI",
            dependencies: ["T5", "T5Scoring", "Tokenizer", "HTTP", "InstructRec", "Evaluation", "Configuration", "Service",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimize),
        .executableTarget(
            name: "InstructRecBench",
            dependencies: ["T5", "T5Scoring", "Randomness", "Tokenizer", "HTTP", "InstructRec", "Evaluation", "Configuration", "Service", "TestSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimize),
        // Used only by test targets and InstructRecBench.
        .target(name: "TestSupport"),
        // Operational tests (make lb-test, make soak): its own HTTP client, no server code.
        .executableTarget(
            name: "LoadTest",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimize),
        .testTarget(name: "T5Tests", dependencies: ["T5", "CQuantized", "CThreadPlacement", "Randomness"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "InstructRec", "Randomness"]),
        .testTarget(name: "InstructRecTests", dependencies: ["InstructRec", "Evaluation", "Randomness"],
                    exclude: ["Fixtures"]),  // read by path (#filePath), not bundled
        .testTarget(name: "ServiceTests", dependencies: ["Configuration", "Service", "InstructRec", "T5", "T5Scoring", "Tokenizer", "HTTP",
                                                         "InstructRecCLI", "TestSupport", "Randomness"],
                    exclude: ["Fixtures"]),  // read by path (#filePath), not bundled
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"], resources: [.copy("Fixtures")]),
        // Depends on the CLI only so the `instructrec` binary is built beside the tests for `ldd`.
        .testTarget(name: "PackagingTests", dependencies: ["InstructRecCLI"]),
    ]
)
