import ArgumentParser
import Configuration
import Dispatch
import Foundation
import HTTP
import Service
#if canImport(Glibc)
import Glibc
#endif

/// Settings of every command that loads the model (`serve`, `score`): the config
/// file, the model's files, threads and `--set key=value` for any other setting.
struct ModelOptions: ParsableArguments {
    @Option(help: "Configuration file (JSON; default: config/instructrec.json here or beside the binary). Environment INSTRUCTREC_<KEY> overrides it; flags override both.")
    var config: String?

    @Option(help: ArgumentHelp("Model directory (HF checkpoint), or NAME=DIR: repeat it to serve several models by name; the first is the default.",
                               valueName: "[name=]dir"))
    var model: [String] = []
    @Option(help: "Tokenizer directory or file (default: the model directory).") var tokenizer: String?
    @Option(help: "Templates file.") var templates: String?
    @Option(name: .customLong("threads"), help: "Threads per worker.") var threadsPerWorker: Int?
    @Option(name: .customLong("set"), help: "Any setting as key=value (repeatable), e.g. --set max_input_tokens=384.")
    var settings: [String] = []

    /// Loads the configuration; `server` adds the flags only `serve` has.
    func load(server: ServerOptions? = nil) throws -> ServiceConfiguration {
        var overrides: [String: String] = [:]
        var spellings: [String: String] = [:]
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else {
                throw ValidationError("--set expects key=value, got '\(setting)'")
            }
            let key = String(setting[..<equals])
            overrides[key] = String(setting[setting.index(after: equals)...])
            spellings[key] = "--set \(key)"
        }
        func flag(_ key: String, _ name: String, _ value: String?) {
            if let value { overrides[key] = value; spellings[key] = name }
        }
        // One bare `--model DIR` is the `model` setting, as always; NAME=DIR (or several) is the `models` list.
        if model.count == 1, ModelEntry.named(model[0]) == nil {
            flag("model", "--model", model[0])
        } else if !model.isEmpty {
            flag("models", "--model", model.map { ModelEntry.named($0).map { "\($0.name)=\($0.source)" } ?? "\(ModelEntry.defaultName)=\($0)" }
                                          .joined(separator: ","))
        }
        flag("tokenizer", "--tokenizer", tokenizer)
        flag("templates", "--templates", templates)
        flag("threads_per_worker", "--threads", threadsPerWorker.map(String.init))
        if let server {
            flag("host", "--host", server.host)
            flag("port", "--port", server.port.map(String.init))
            flag("workers", "--workers", server.workers.map(String.init))
        }
        let file = try ConfigurationLocation.configFile(explicit: config)
        return try ServiceConfiguration.load(file: file, environment: ProcessInfo.processInfo.environment, overrides: overrides,
                                             flagSpellings: spellings, baseDirectories: ConfigurationLocation.baseDirectories(configFile: file))
    }
}

/// Flags of the HTTP server only.
struct ServerOptions: ParsableArguments {
    @Option(help: "Listen address.") var host: String?
    @Option(help: "Listen port.") var port: Int?
    @Option(help: "Inference workers.") var workers: Int?
}

/// `instructrec serve`: the HTTP service. It listens first and loads the model
/// behind a start-up router (/healthz 200, /readyz 503 "loading", everything
/// else 503 + Retry-After); signals follow `ServiceLifecycle`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the HTTP service.")

    @OptionGroup var options: ModelOptions
    @OptionGroup var server: ServerOptions

    func run() throws {
        let log = JSONLog.shared
        // First, before anything else runs: this may re-execute the process with OPENBLAS_CORETYPE set.
        let kernel = try KernelSelection.apply(log: log)
        let configuration: ServiceConfiguration
        do { configuration = try options.load(server: server) } catch {
            log.error("invalid configuration", ["error": "\(error)"])
            throw ExitCode(2)
        }
        for warning in configuration.warnings { log.warning("configuration", ["warning": warning]) }
        signal(SIGPIPE, SIG_IGN)

        let host = ServiceHost(configuration: configuration, kernel: kernel)
        let server = host.makeServer()
        // The handler exists before the socket opens: a signal sent once `listening` is logged is never lost.
        let state = ServeState()
        state.signals = SignalPipe.install([SIGTERM, SIGINT, SIGHUP], queue: .main) { signalNumber in
            if signalNumber == SIGHUP {
                // Reload, without a restart, every model whose files or settings changed (each old version serves
                // until its new one is warm; the others serve on).
                guard let service = state.service else { log.warning("SIGHUP ignored: the model is still loading"); return }
                log.info("reloading models", ["signal": "SIGHUP", "models": service.modelNames])
                service.reload(onlyChanged: true) { result in
                    switch result {
                    case .alreadyRunning: log.warning("SIGHUP ignored: a reload is already running")
                    case let .done(reports):
                        let unchanged = reports.filter { if case .unchanged = $0.outcome { return true } else { return false } }.map(\.model)
                        if !unchanged.isEmpty { log.info("models unchanged, not reloaded", ["models": unchanged]) }
                    }
                }
                return
            }
            let received: ServiceLifecycle.Signal = signalNumber == SIGTERM ? .terminate : .interrupt
            switch state.lifecycle.received(received) {
            case .none, .startServing:
                break
            case let .exitNow(reason):
                log.info("exiting", ["signal": received.rawValue, "reason": reason])
                // Now, without waiting for the loading thread or atexit handlers.
                Glibc._exit(0)
            case .drain:
                // Drain: readiness false now; keep serving while the balancer notices;
                // then stop accepting, finish in-flight requests, exit by the deadline.
                log.info("draining", ["signal": received.rawValue, "drain_delay_s": configuration.drainDelaySeconds])
                state.service?.beginDraining()
                DispatchQueue.main.asyncAfter(deadline: .now() + configuration.drainDelaySeconds) {
                    server.shutdown(deadline: configuration.shutdownDeadlineSeconds) {
                        state.service?.stop()
                        log.info("stopped")
                        Foundation.exit(0)
                    }
                }
            }
        }

        let started = DispatchTime.now()
        do { try server.start() } catch {
            log.error("cannot listen", ["error": "\(error)", "host": configuration.host, "port": configuration.port])
            throw ExitCode(1)
        }
        log.info("listening", ["host": configuration.host, "port": server.port, "status": "loading",
                               "tls": configuration.tlsCertificate != nil])

        log.info("loading model", ["model": configuration.model, "model_source": configuration.origin(of: "model"),
                                   "models": [configuration.modelName] + configuration.additionalModels.map(\.name)])
        Thread.detachNewThread {
            do {
                let service = try host.load()
                DispatchQueue.main.async {
                    guard state.lifecycle.loaded() == .startServing else { service.stop(); return }
                    state.service = service
                    // A reload reads the configuration's layers again: an edited instructrec.json or templates.json applies.
                    let options = options, serverOptions = self.server
                    service.reloadConfiguration = { try options.load(server: serverOptions) }
                    server.replaceRouter(service.makeRouter())
                    if let warm = service.priorWarmUp {
                        log.info("title priors warmed", ["catalog": configuration.priorCatalog ?? "", "titles": warm.titles,
                                                         "computed": warm.computed, "seconds": warm.seconds])
                    }
                    for (name, gaps) in service.candidateFreeGaps.sorted(by: { $0.key < $1.key }) {
                        log.warning("templates", ["model": name, "without_candidate_free": gaps, "note":
                            "instruction_form is candidate_free, but these templates have no candidate-free counterpart (generate.…): requests that select them are prompted with the list wording"])
                    }
                    for (name, reduced) in service.reducedPrecisionKernels.sorted(by: { $0.key < $1.key }) {
                        if reduced.isReference {
                            log.warning("reduced-precision kernel", ["model": name, "kernel": reduced.kernel, "note":
                                reduced.kernel.hasPrefix("bf16")
                                    ? "this CPU has no AVX-512 BF16: bf16 weights (half the memory) are widened to F32 inside each product"
                                    : "this CPU has neither AVX-512 VNNI nor AVX2: int8 runs the plain reference loop, slower than weights_dtype auto"])
                        } else {
                            log.info("reduced-precision kernel", ["model": name, "kernel": reduced.kernel])
                        }
                    }
                    log.info("serving", ["host": configuration.host, "port": server.port, "workers": configuration.workers,
                                         "models": service.modelNames, "weight_bytes": service.weightBytes,
                                         "threads_per_worker": configuration.threadsPerWorker,
                                         "cores": service.threadPlan.cores, "thread_split": service.threadPlan.spinning ? "helper teams" : "shared pool",
                                         "tls": configuration.tlsCertificate != nil,
                                         "startup_seconds": Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9])
                }
            } catch {
                log.error("start-up failed", ["error": "\(error)"])
                Glibc._exit(1)
            }
        }
        dispatchMain()
    }
}

/// What the signal handlers and the loading thread share; touched on the main queue only.
final class ServeState: @unchecked Sendable {
    var lifecycle = ServiceLifecycle()
    var service: RerankService?
    var signals: DispatchSourceRead?
}

/// `instructrec score`: a request JSON from a file or stdin, results on stdout.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score one request without HTTP (the body of any POST ranking endpoint: recommend, search, rerank, v1/rerank, v2/rerank).")

    @OptionGroup var options: ModelOptions

    @Option(help: "Which endpoint's request shape: recommend, search, rerank (ours or TEI by its body), v1/rerank (Cohere v1, Jina), v2/rerank (Cohere v2). Default: inferred from the body; one that /rerank and a Cohere shape both take is /rerank's.")
    var endpoint: String?

    @Argument(help: "Request JSON file (default: standard input).")
    var file: String?

    func run() throws {
        JSONLog.shared.enabled = false
        let body: Data
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            body = data
        } else {
            body = FileHandle.standardInput.readDataToEndOfFile()
        }
        let chosen: String
        if let endpoint { chosen = endpoint } else {
            switch EndpointInference.infer(body: Array(body)) {
            case let .endpoint(path): chosen = path
            case let .unclear(message):
                // One line that names the flag, without ArgumentParser's usage text after it.
                FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
                throw ExitCode.validationFailure
            }
        }
        let configuration = try options.load().fetchingHubModels()
        let service = try RerankService(configuration: configuration)
        let (status, json) = service.scoreDirectly(endpoint: chosen, body: Array(body))
        FileHandle.standardOutput.write(Data(json + [0x0A]))
        service.stop()
        if status != 200 { throw ExitCode(1) }
    }
}
