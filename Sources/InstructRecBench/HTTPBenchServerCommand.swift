import ArgumentParser
import Dispatch
import Foundation
import HTTP

/// `instructrec-bench http-server`: the HTTP layer alone behind a tiny GET
/// endpoint, for `make bench-http` (wrk against us and nginx side by side).
struct HTTPBenchServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-server",
        abstract: "Serve GET /ping with the HTTP layer alone (for make bench-http)."
    )

    @Option var host = "127.0.0.1"
    @Option var port = 18080

    func run() throws {
        var router = Router()
        router.add("GET", "/ping") { _, responder in responder.respond(.text("pong\n")) }
        var configuration = HTTPServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.maxConnections = 4096
        let server = HTTPServer(configuration: configuration, router: router)
        server.accessLogEnabled = false
        try server.start()
        JSONLog.shared.info("http-server listening", ["port": server.port])
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let stop = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .main)
        stop.setEventHandler { server.shutdown(deadline: 2) { Foundation.exit(0) } }
        stop.resume()
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .main)
        interrupt.setEventHandler { server.shutdown(deadline: 2) { Foundation.exit(0) } }
        interrupt.resume()
        dispatchMain()
    }
}
