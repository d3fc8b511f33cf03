import Fakes
import Foundation
import Outbound
import Testing

@Suite("Loopback fakes")
struct LoopbackServerTests {
    @Test("the HTTP fake de-chunks chunked request bodies")
    func chunkedBody() async throws {
        let server = try LoopbackHTTPServer { request in .text(200, "\(request.body.count)") }
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }
        let body = Array(String(repeating: "chunk-of-text ", count: 5_000).utf8)

        let response = try await client.send(HTTPRequest(
            method: "POST", url: server.baseURL + "/upload",
            headers: [HTTPHeader("Transfer-Encoding", "chunked")], body: body))

        #expect(response.bodyText == "\(body.count)")
        let received = try #require(server.requests.first)
        #expect(received.header("transfer-encoding") == "chunked")
        #expect(received.body == body)
    }

    @Test("the HTTP fake answers 200 concurrent connections without serialising its latency")
    func twoHundredConnections() async throws {
        let server = try LoopbackHTTPServer { request in .text(200, request.path) }
        server.latency = .milliseconds(100)
        defer { server.stop() }
        let client = OutboundClient(maxConnectionsPerHost: 256, maxTotalConnections: 256)
        defer { client.shutdown() }

        let started = ContinuousClock.now
        let count = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<200 {
                group.addTask {
                    try await client.send(HTTPRequest(url: server.baseURL + "/\(index)", timeout: .seconds(20))).status
                }
            }
            return try await group.reduce(0) { $0 + ($1 == 200 ? 1 : 0) }
        }
        #expect(count == 200)
        #expect(server.connectionCount > 100, "curl opened parallel connections")
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test("a stopped HTTP fake refuses connections, including kept-alive ones")
    func stopCloses() async throws {
        let server = try LoopbackHTTPServer { _ in .text(200, "ok") }
        let client = OutboundClient()
        defer { client.shutdown() }
        #expect(try await client.send(HTTPRequest(url: server.baseURL + "/")).status == 200)
        server.stop()
        server.stop()  // idempotent
        try await Task.sleep(for: .milliseconds(50))
        let error = await #expect(throws: OutboundError.self) {
            _ = try await client.send(HTTPRequest(url: server.baseURL + "/", timeout: .seconds(5)))
        }
        #expect(error?.code == .couldNotConnect)
    }

    @Test("handler and latency can be changed while running; requests are recorded")
    func mutableHandler() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, "{}") }
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        #expect(try await client.send(HTTPRequest(url: server.baseURL + "/a?x=1&y=two+words")).status == 200)
        server.handler = { _ in .json(503, #"{"error":"unavailable"}"#) }
        let failed = try await client.send(HTTPRequest(method: "POST", url: server.baseURL + "/b", body: Array("k=v".utf8)))
        #expect(failed.status == 503)
        #expect(failed.header("Content-Type") == "application/json")

        #expect(server.requestCount == 2)
        #expect(server.requests[0].query == ["x": "1", "y": "two words"])
        #expect(server.requests[1].formFields() == ["k": "v"])
        server.clearRequests()
        #expect(server.requestCount == 0)
    }
}
