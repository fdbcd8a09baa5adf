import ArgumentParser
import Dispatch
import Foundation
import HTTP
import Service

/// Settings shared by `serve` and `score`: the config file, common flags and
/// `--set key=value` for any other setting.
struct ServiceOptions: ParsableArguments {
    @Option(help: "Configuration file (JSON). Environment INSTRUCTREC_<KEY> overrides it; flags override both.")
    var config = "config/instructrec.json"

    @Option(help: "Model directory (HF checkpoint).") var model: String?
    @Option(help: "Tokenizer directory or file (default: the model directory).") var tokenizer: String?
    @Option(help: "Templates file.") var templates: String?
    @Option(help: "Listen address.") var host: String?
    @Option(help: "Listen port.") var port: Int?
    @Option(help: "Inference workers.") var workers: Int?
    @Option(name: .customLong("threads"), help: "Threads per worker.") var threadsPerWorker: Int?
    @Option(name: .customLong("set"), help: "Any setting as key=value (repeatable), e.g. --set max_input_tokens=384.")
    var settings: [String] = []

    func load() throws -> ServiceConfiguration {
        var overrides: [String: String] = [:]
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else {
                throw ValidationError("--set expects key=value, got '\(setting)'")
            }
            overrides[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
        }
        if let model { overrides["model"] = model }
        if let tokenizer { overrides["tokenizer"] = tokenizer }
        if let templates { overrides["templates"] = templates }
        if let host { overrides["host"] = host }
        if let port { overrides["port"] = String(port) }
        if let workers { overrides["workers"] = String(workers) }
        if let threadsPerWorker { overrides["threads_per_worker"] = String(threadsPerWorker) }
        let file = FileManager.default.fileExists(atPath: config) ? config : nil
        if file == nil && config != "config/instructrec.json" {
            throw ValidationError("configuration file \(config) does not exist")
        }
        return try ServiceConfiguration.load(file: file, environment: ProcessInfo.processInfo.environment, overrides: overrides)
    }
}

/// `instructrec serve`: the HTTP service.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the HTTP service.")

    @OptionGroup var options: ServiceOptions

    func run() throws {
        let log = JSONLog.shared
        let configuration: ServiceConfiguration
        do { configuration = try options.load() } catch {
            log.error("invalid configuration", ["error": "\(error)"])
            throw ExitCode(2)
        }
        // Ignore the default handlers so Dispatch sources receive the signals.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        log.info("loading model", ["model": configuration.model])
        let service: RerankService
        do { service = try RerankService(configuration: configuration) } catch {
            log.error("start-up failed", ["error": "\(error)"])
            throw ExitCode(1)
        }
        let server = HTTPServer(configuration: configuration.httpConfiguration, router: service.makeRouter())
        server.accessLogEnabled = configuration.logRequests
        do { try server.start() } catch {
            log.error("cannot listen", ["error": "\(error)", "host": configuration.host, "port": configuration.port])
            throw ExitCode(1)
        }
        log.info("serving", ["host": configuration.host, "port": server.port, "workers": configuration.workers,
                             "threads_per_worker": configuration.threadsPerWorker,
                             "tls": configuration.tlsCertificate != nil])
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
            source.setEventHandler {
                // Drain: readiness false now; keep serving while the balancer notices;
                // then stop accepting, finish in-flight requests, exit by the deadline.
                guard !service.isDraining else { return }
                log.info("draining", ["signal": signalNumber == SIGTERM ? "SIGTERM" : "SIGINT",
                                      "drain_delay_s": configuration.drainDelaySeconds])
                service.beginDraining()
                DispatchQueue.main.asyncAfter(deadline: .now() + configuration.drainDelaySeconds) {
                    server.shutdown(deadline: configuration.shutdownDeadlineSeconds) {
                        service.stop()
                        log.info("stopped")
                        Foundation.exit(0)
                    }
                }
            }
            source.resume()
            sources.append(source)
        }
        withExtendedLifetime(sources) { dispatchMain() }
    }
}

/// `instructrec score`: a request JSON from a file or stdin, results on stdout.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score one request without HTTP (the body of any POST ranking endpoint: recommend, search, rerank, v1/rerank, v2/rerank).")

    @OptionGroup var options: ServiceOptions

    @Option(help: "Which endpoint's request shape: recommend, search, rerank (ours or TEI by its body), v1/rerank (Cohere v1, Jina), v2/rerank (Cohere v2).")
    var endpoint = "recommend"

    @Argument(help: "Request JSON file (default: standard input).")
    var file: String?

    func run() throws {
        JSONLog.shared.enabled = false
        let configuration = try options.load()
        let service = try RerankService(configuration: configuration)
        let body: Data
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            body = data
        } else {
            body = FileHandle.standardInput.readDataToEndOfFile()
        }
        let (status, json) = service.scoreDirectly(endpoint: endpoint, body: Array(body))
        FileHandle.standardOutput.write(Data(json + [0x0A]))
        service.stop()
        if status != 200 { throw ExitCode(1) }
    }
}
