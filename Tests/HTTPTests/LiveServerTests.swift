import Foundation
import XCTest
@testable import HTTP
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The server on a real loopback socket, talked to by curl and raw sockets.
final class LiveServerTests: XCTestCase {
    let curl = "/usr/bin/curl"

    /// A host the resolver cannot resolve is named with the resolver's own reason (EAI_ codes are not errno).
    func testAnUnresolvableHostSaysWhy() {
        XCTAssertThrowsError(try Socket.listen(host: "999.1.1.1", port: 0, backlog: 1)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("999.1.1.1"), text)
            XCTAssertFalse(text.hasSuffix("Invalid argument"), "an errno text for a resolver error: \(text)")
        }
    }

    func testCurlReusesKeepAliveConnections() throws {
        let live = try LiveServer()
        let (status, out, err) = try runProcess(curl, ["-sv", "\(live.base)/hello", "\(live.base)/hello"])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(out, "hellohello")
        XCTAssertTrue(err.contains("Re-using existing connection") || err.contains("Reusing existing connection"), err)
    }

    func testCurlHTTP10GetsAnHTTP10ResponseAndClose() throws {
        let live = try LiveServer()
        let (_, out, _) = try runProcess(curl, ["-si", "--http1.0", "\(live.base)/hello"])
        XCTAssertTrue(out.hasPrefix("HTTP/1.0 200 OK"), out)
        XCTAssertTrue(out.lowercased().contains("connection: close"), out)
    }

    func testCurlChunkedUpload() throws {
        let live = try LiveServer()
        let payload = String(repeating: "0123456789", count: 10_000)
        let (_, out, _) = try runProcess(curl, ["-s", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: text/plain",
                                         "--data-binary", "@-", "\(live.base)/echo"], stdin: Data(payload.utf8))
        let object = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        XCTAssertEqual(object?["length"] as? Int, 100_000)
    }

    func testCurlCompressedResponseIsGzipped() throws {
        let live = try LiveServer()
        let (_, headers, _) = try runProcess(curl, ["-s", "-D", "-", "-o", "/dev/null", "--compressed", "\(live.base)/big"])
        XCTAssertTrue(headers.lowercased().contains("content-encoding: gzip"), headers)
        let (_, body, _) = try runProcess(curl, ["-s", "--compressed", "\(live.base)/big"])
        let array = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [Any]
        XCTAssertEqual(array?.count, 2000)
        // Without Accept-Encoding the body is identity.
        let (_, plain, _) = try runProcess(curl, ["-s", "-D", "-", "-o", "/dev/null", "\(live.base)/big"])
        XCTAssertFalse(plain.lowercased().contains("content-encoding"), plain)
    }

    func testGzipRequestBodiesAreDecodedAndBombsRefused() throws {
        let live = try LiveServer { $0.maxDecompressedBodyBytes = 1_000_000 }
        let small = try runProcess("/bin/gzip", ["-c"], stdin: Data("{\"x\": 1}".utf8)).1
        _ = small
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let okFile = directory.appendingPathComponent("ok.gz"), bombFile = directory.appendingPathComponent("bomb.gz")
        try Data("hello gzip".utf8).write(to: directory.appendingPathComponent("ok"))
        try Data(count: 5_000_000).write(to: directory.appendingPathComponent("bomb"))
        try runProcess("/bin/gzip", ["-k", directory.appendingPathComponent("ok").path])
        try runProcess("/bin/gzip", ["-k", directory.appendingPathComponent("bomb").path])
        let (_, out, _) = try runProcess(curl, ["-s", "-H", "Content-Encoding: gzip", "--data-binary", "@\(okFile.path)", "\(live.base)/echo"])
        XCTAssertTrue(out.contains("\"body\":\"hello gzip\""), out)
        let (_, bomb, _) = try runProcess(curl, ["-s", "-w", "%{http_code}", "-H", "Content-Encoding: gzip", "--data-binary", "@\(bombFile.path)", "\(live.base)/echo"])
        XCTAssertTrue(bomb.hasSuffix("413"), bomb)
        let (_, brotli, _) = try runProcess(curl, ["-s", "-w", "%{http_code}", "-H", "Content-Encoding: br", "--data-binary", "x", "\(live.base)/echo"])
        XCTAssertTrue(brotli.hasSuffix("415"), brotli)
    }

    func testHTTPSWithASelfSignedCertificate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key.pem").path, certificate = directory.appendingPathComponent("cert.pem").path
        let (status, _, err) = try runProcess("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                                                            "-out", certificate, "-days", "1", "-subj", "/CN=localhost"])
        XCTAssertEqual(status, 0, err)
        let live = try LiveServer { $0.tlsCertificatePath = certificate; $0.tlsKeyPath = key }
        let (code, out, curlErr) = try runProcess(curl, ["-sk", "\(live.base)/hello", "\(live.base)/hello"])
        XCTAssertEqual(code, 0, curlErr)
        XCTAssertEqual(out, "hellohello")
        // A plain-HTTP client on the TLS port fails its handshake; the server keeps serving.
        let raw = try LoopbackHTTPClient(port: live.port, receiveTimeout: 2)
        raw.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = raw.readAll()
        let (again, body, _) = try runProcess(curl, ["-sk", "--compressed", "-X", "POST", "--data", "abc", "\(live.base)/echo"])
        XCTAssertEqual(again, 0)
        XCTAssertTrue(body.contains("\"length\":3"), body)
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let live = try LiveServer()
        let client = try LoopbackHTTPClient(port: live.port)
        client.send("GET /slow?s=0.3 HTTP/1.1\r\nHost: a\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        let responses = client.readResponses(3)
        XCTAssertEqual(responses.count, 3)
        XCTAssertTrue(responses[0].hasSuffix("slow done"), responses.first ?? "")
        XCTAssertTrue(responses[1].contains("\"body\":\"abc\""))
        XCTAssertTrue(responses[2].hasSuffix("hello"))
    }

    /// RFC 9112 §3.2.2: an absolute-form target is routed by its path (it used to get 404).
    func testAbsoluteFormTargetIsRouted() throws {
        let live = try LiveServer()
        let client = try LoopbackHTTPClient(port: live.port)
        client.send("GET http://example.test/hello HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
        let response = client.readAll()
        XCTAssertTrue(response.hasPrefix("HTTP/1.1 200"), response)
        XCTAssertTrue(response.hasSuffix("hello"), response)
    }

    /// The 408 is timed on its own: from the slow client's last byte to the answer, while other clients are
    /// served meanwhile. (This test once took 29.5 s on a loaded machine: its clock also ran over five
    /// sequential `curl` processes, whose start-up is what a busy disk and CPU slow down, not the 408.)
    func testSlowlorisGets408WhileOthersAreServed() throws {
        let live = try LiveServer { $0.headerTimeout = 1 }
        let slow = try LoopbackHTTPClient(port: live.port, receiveTimeout: 20)
        let start = Date()
        slow.send("GET /hello HTTP/1.1\r\nHo")
        let (curlPath, base) = (curl, live.base)
        let others = Thread {
            for _ in 0..<5 { _ = try? runProcess(curlPath, ["-s", "\(base)/hello"]) }
        }
        others.start()
        let answer = slow.readAll()
        let waited = Date().timeIntervalSince(start)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 408"), answer)
        // 1 s header timeout + the 0.25 s sweep, with room for a busy machine's scheduling
        XCTAssertGreaterThanOrEqual(waited, 0.99)
        XCTAssertLessThan(waited, 4, "the 408 comes from the header timeout, not a longer one")
        for _ in 0..<3 { XCTAssertEqual(try runProcess(curl, ["-s", "\(live.base)/hello"]).1, "hello", "others are served") }
        // A client that never sends a byte is closed too.
        let silent = try LoopbackHTTPClient(port: live.port, receiveTimeout: 20)
        let silentStart = Date()
        XCTAssertTrue(silent.readAll().hasPrefix("HTTP/1.1 408"))
        XCTAssertLessThan(Date().timeIntervalSince(silentStart), 4)
    }

    func testHalfClosedClientStillGetsItsResponse() throws {
        let live = try LiveServer()
        let client = try LoopbackHTTPClient(port: live.port)
        client.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        client.shutdownWrite()
        let answer = client.readAll()
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200"), answer)
        XCTAssertTrue(answer.hasSuffix("hello"))
        // Half a request then EOF: closed without a response, server unaffected.
        let partial = try LoopbackHTTPClient(port: live.port)
        partial.send("GET /hello HTTP/1.1\r\nHo")
        partial.shutdownWrite()
        XCTAssertEqual(partial.readAll(), "")
        XCTAssertEqual(try runProcess(curl, ["-s", "\(live.base)/hello"]).1, "hello")
    }

    func testConnectionLimitAnswers503() throws {
        let live = try LiveServer { $0.maxConnections = 2 }
        let a = try LoopbackHTTPClient(port: live.port), b = try LoopbackHTTPClient(port: live.port)
        a.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        b.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(a.readResponses(1).count, 1)
        XCTAssertEqual(b.readResponses(1).count, 1)
        let c = try LoopbackHTTPClient(port: live.port)
        let answer = c.readAll()
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 503"), answer)
        XCTAssertTrue(answer.contains("Retry-After"))
    }

    /// 400, 408, 413 and 431 carry an X-Request-ID (the client's, when it came in before the error) and the
    /// access record of each has the same id.
    func testEarlyAnswersCarryTheirRequestIDOnTheWireAndInTheAccessRecord() throws {
        let live = try LiveServer {
            $0.headerTimeout = 1
            $0.limits.maxBodyBytes = 1024
        }
        let records = Records()
        live.server.onAccess = { records.append($0) }
        let manyFields = (0..<100).map { "X-F\($0): v\r\n" }.joined()
        let cases: [(request: String, status: Int, id: String?)] = [
            ("POST /echo HTTP/1.1\r\nHost: a\r\nX-Request-ID: bad-1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad-1"),
            ("POST /echo HTTP/1.1\r\nHost: a\r\nX-Request-ID: big-1\r\nContent-Length: 99999\r\n\r\n", 413, "big-1"),
            ("GET /hello HTTP/1.1\r\nHost: a\r\nX-Request-ID: wide-1\r\n" + manyFields + "\r\n", 431, "wide-1"),
            ("GET /hello HTTP/1.1\r\nX-Request-ID: slow-1\r\nHo", 408, "slow-1"),
            ("", 408, nil),
        ]
        for c in cases {
            let client = try LoopbackHTTPClient(port: live.port, receiveTimeout: 20)
            if !c.request.isEmpty { client.send(c.request) }
            let answer = client.readAll()
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 \(c.status) "), answer)
            let id = try XCTUnwrap(MachineHarness.requestID(answer), answer)
            if let expected = c.id { XCTAssertEqual(id, expected) } else { XCTAssertEqual(id.count, 32, answer) }
            XCTAssertTrue(waitUntil { records.all.contains { $0.requestID == id && $0.status == c.status } },
                          "the access record of the \(c.status) has \(id): \(records.all)")
        }
    }

    /// At the limit a few reserve connections serve probes (here /hello) and refuse the rest as the limit does,
    /// with the request's id; beyond the reserve, 503 at accept with a fresh id. Both are counted.
    func testAtTheConnectionLimitProbesAreServedFromTheReserve() throws {
        let live = try LiveServer {
            $0.maxConnections = 2
            $0.probeReserve = ProbeReserve(slots: 2, paths: ["/hello"], headerTimeout: 10)
        }
        let records = Records()
        live.server.onAccess = { records.append($0) }
        // The limit, held by idle keep-alive clients.
        let held = try (0..<2).map { _ in try LoopbackHTTPClient(port: live.port) }
        for client in held {
            client.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            XCTAssertEqual(client.readResponses(1).count, 1)
        }
        let probe = try LoopbackHTTPClient(port: live.port)
        probe.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        let probed = probe.readAll()
        XCTAssertTrue(probed.hasPrefix("HTTP/1.1 200"), probed)
        XCTAssertTrue(probed.contains("Connection: close\r\n"), "one probe per reserve connection")
        let other = try LoopbackHTTPClient(port: live.port)
        other.send("GET /big HTTP/1.1\r\nHost: a\r\nX-Request-ID: over-1\r\n\r\n")
        let refused = other.readAll()
        XCTAssertTrue(refused.hasPrefix("HTTP/1.1 503"), refused)
        XCTAssertTrue(refused.contains("Retry-After: 1\r\n"), refused)
        XCTAssertEqual(MachineHarness.requestID(refused), "over-1")
        XCTAssertEqual(live.server.rejectedConnections, 1)
        XCTAssertTrue(waitUntil { live.server.openConnections == 2 }, "the reserve is free again")
        // The reserve held too: refused at accept, with a fresh id that its access record has.
        let idle = try (0..<2).map { _ in try LoopbackHTTPClient(port: live.port) }
        XCTAssertTrue(waitUntil { live.server.openConnections == 4 })
        let late = try LoopbackHTTPClient(port: live.port)
        let answer = late.readAll()
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 503"), answer)
        let id = try XCTUnwrap(MachineHarness.requestID(answer), answer)
        XCTAssertEqual(id.count, 32)
        XCTAssertTrue(waitUntil { records.all.contains { $0.requestID == id && $0.status == 503 } }, "\(records.all)")
        XCTAssertEqual(live.server.rejectedConnections, 2)
        // The reserve frees when its clients leave: probes are served again.
        for client in idle { client.close() }
        XCTAssertTrue(waitUntil { live.server.openConnections == 2 })
        let again = try LoopbackHTTPClient(port: live.port)
        again.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertTrue(again.readAll().hasPrefix("HTTP/1.1 200"))
        for client in held { client.close() }
    }

    func testIdleKeepAliveConnectionsClose() throws {
        let live = try LiveServer { $0.idleTimeout = 0.5 }
        let client = try LoopbackHTTPClient(port: live.port)
        client.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(client.readResponses(1).count, 1)
        let start = Date()
        XCTAssertTrue(client.isClosedByServer())
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
    }

    func testClientThatDoesNotReadIsCutOffByTheWriteDeadline() throws {
        let live = try LiveServer { $0.writeTimeout = 1 }
        let client = try LoopbackHTTPClient(port: live.port)
        var small: Int32 = 4096
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        client.send("GET /huge HTTP/1.1\r\nHost: a\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(try runProcess(curl, ["-s", "\(live.base)/hello"]).1, "hello")
        // The server gives up on the stalled writer within about a second.
        let deadline = Date().addingTimeInterval(4)
        while live.server.openConnections > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertEqual(live.server.openConnections, 0)
    }

    func testErrorsAreJSONWithRightStatusesAndAllow() throws {
        let live = try LiveServer()
        let (_, notFound, _) = try runProcess(curl, ["-s", "-i", "\(live.base)/nope"])
        XCTAssertTrue(notFound.hasPrefix("HTTP/1.1 404"))
        XCTAssertTrue(notFound.contains("{\"error\":{\"code\":\"not_found\""), notFound)
        let (_, notAllowed, _) = try runProcess(curl, ["-s", "-i", "-X", "DELETE", "\(live.base)/hello"])
        XCTAssertTrue(notAllowed.hasPrefix("HTTP/1.1 405"))
        XCTAssertTrue(notAllowed.contains("Allow: GET, HEAD"), notAllowed)
        let (_, head, _) = try runProcess(curl, ["-s", "-I", "\(live.base)/hello"])
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200"))
        XCTAssertTrue(head.contains("Content-Length: 5"), head)
        let raw = try LoopbackHTTPClient(port: live.port)
        raw.send("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        let smuggle = raw.readAll()
        XCTAssertTrue(smuggle.hasPrefix("HTTP/1.1 400"))
        XCTAssertTrue(smuggle.contains("Connection: close"))
    }

    func testRequestIDsAreEchoedOrGeneratedAndLogged() throws {
        let live = try LiveServer()
        let records = Records()
        live.server.onAccess = { records.append($0) }
        let (_, echoed, _) = try runProcess(curl, ["-s", "-i", "-H", "X-Request-ID: abc-123", "\(live.base)/hello"])
        XCTAssertTrue(echoed.contains("X-Request-ID: abc-123"), echoed)
        let (_, generated, _) = try runProcess(curl, ["-s", "-i", "\(live.base)/hello"])
        let id = generated.split(separator: "\r\n").first { $0.hasPrefix("X-Request-ID: ") }?.dropFirst(14)
        XCTAssertEqual(id?.count, 32)
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(records.all.first?.requestID, "abc-123")
        XCTAssertEqual(records.all.first?.status, 200)
        XCTAssertTrue(records.all.first?.peer.hasPrefix("127.0.0.1:") ?? false)
    }

    func testGracefulShutdownFinishesInFlightAndRefusesNew() throws {
        let live = try LiveServer()
        let result = Records()
        let started = expectation(description: "in flight done")
        let url = "\(live.base)/slow?s=1"
        DispatchQueue.global().async {
            let out = (try? runProcess("/usr/bin/curl", ["-s", url]))?.1 ?? ""
            result.note(out)
            started.fulfill()
        }
        Thread.sleep(forTimeInterval: 0.3)
        let idle = try LoopbackHTTPClient(port: live.port)
        idle.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(idle.readResponses(1).count, 1)
        let drained = expectation(description: "drained")
        live.server.shutdown(deadline: 5) { drained.fulfill() }
        XCTAssertTrue(idle.isClosedByServer(), "idle keep-alive connection closes at shutdown")
        wait(for: [started, drained], timeout: 6)
        XCTAssertEqual(result.notes, ["slow done"])
        XCTAssertThrowsError(try LoopbackHTTPClient(port: live.port).send("x"))
    }
}

/// Polls `condition` until it holds or `seconds` pass (generous: the machine may be busy).
func waitUntil(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() > deadline { return false }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return true
}

final class Records: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [HTTPServer.AccessRecord] = []
    private var texts: [String] = []
    func append(_ record: HTTPServer.AccessRecord) { lock.lock(); records.append(record); lock.unlock() }
    func note(_ text: String) { lock.lock(); texts.append(text); lock.unlock() }
    var all: [HTTPServer.AccessRecord] { lock.lock(); defer { lock.unlock() }; return records }
    var notes: [String] { lock.lock(); defer { lock.unlock() }; return texts }
}
