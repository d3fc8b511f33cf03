import Fakes
import Foundation
import Outbound
import Testing

@Suite("OutboundClient HTTP")
struct HTTPSendTests {
    @Test("GET carries headers and query; status, headers and body come back")
    func getRoundTrip() async throws {
        let server = try LoopbackHTTPServer { request in
            FakeHTTPResponse(
                status: 203,
                headers: [("X-Echo", request.header("x-token") ?? "none"), ("Content-Type", "text/plain")],
                body: Array("path=\(request.path) q=\(request.query["q"] ?? "")".utf8))
        }
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        let response = try await client.send(HTTPRequest(
            url: server.baseURL + "/v1/things?q=a%20b", headers: [HTTPHeader("X-Token", "secret-1")]))

        #expect(response.status == 203)
        #expect(response.header("x-echo") == "secret-1")
        #expect(response.header("CONTENT-TYPE") == "text/plain")
        #expect(response.bodyText == "path=/v1/things q=a b")
        let received = try #require(server.requests.first)
        #expect(received.method == "GET")
        #expect(received.body.isEmpty)
    }

    @Test("POST, PUT and DELETE send their method and body")
    func methodsAndBodies() async throws {
        let server = try LoopbackHTTPServer { request in
            .json(200, #"{"method":"\#(request.method)","length":\#(request.body.count)}"#)
        }
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        let json = Array(#"{"to":"token-1","body":"안녕하세요 👋"}"#.utf8)
        let post = try await client.send(HTTPRequest(
            method: "POST", url: server.baseURL + "/send",
            headers: [HTTPHeader("Content-Type", "application/json")], body: json))
        #expect(post.status == 200)
        #expect(post.bodyText == #"{"method":"POST","length":\#(json.count)}"#)

        let large = [UInt8](repeating: UInt8(ascii: "x"), count: 200_000)
        let put = try await client.send(HTTPRequest(method: "PUT", url: server.baseURL + "/blob", body: large))
        #expect(put.bodyText == #"{"method":"PUT","length":200000}"#)

        let form = try await client.send(HTTPRequest(
            method: "POST", url: server.baseURL + "/Messages.json",
            headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")],
            body: Array("To=%2B821012345678&Body=hello+there".utf8)))
        #expect(form.status == 200)

        let delete = try await client.send(HTTPRequest(method: "DELETE", url: server.baseURL + "/thing/1"))
        #expect(delete.bodyText == #"{"method":"DELETE","length":0}"#)

        let requests = server.requests
        #expect(requests.map(\.method) == ["POST", "PUT", "POST", "DELETE"])
        #expect(requests[0].body == json)
        #expect(requests[0].header("content-type") == "application/json")
        #expect(requests[1].body == large)
        #expect(requests[2].formFields() == ["To": "+821012345678", "Body": "hello there"])
    }

    @Test("sequential requests reuse one keep-alive connection")
    func keepAlive() async throws {
        let server = try LoopbackHTTPServer { _ in .text(200, "ok") }
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        for _ in 0..<10 {
            let response = try await client.send(HTTPRequest(url: server.baseURL + "/ping"))
            #expect(response.status == 200)
        }
        #expect(server.requestCount == 10)
        #expect(server.connectionCount == 1)
    }

    @Test("100 concurrent requests to a 100 ms server overlap instead of queueing")
    func concurrentRequests() async throws {
        let server = try LoopbackHTTPServer { request in .text(200, request.path) }
        server.latency = .milliseconds(100)
        defer { server.stop() }
        let client = OutboundClient(maxConnectionsPerHost: 128)
        defer { client.shutdown() }

        let started = ContinuousClock.now
        let bodies = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<100 {
                group.addTask {
                    try await client.send(HTTPRequest(url: server.baseURL + "/n/\(index)")).bodyText
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        let elapsed = ContinuousClock.now - started

        #expect(bodies == Set((0..<100).map { "/n/\($0)" }))
        #expect(server.requestCount == 100)
        #expect(elapsed < .seconds(3), "took \(elapsed); serial would be 10 s")
    }

    @Test("a server slower than the timeout gives .timeout")
    func timeout() async throws {
        let server = try LoopbackHTTPServer { _ in .text(200, "late") }
        server.latency = .seconds(6)
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        let started = ContinuousClock.now
        let error = await #expect(throws: OutboundError.self) {
            _ = try await client.send(HTTPRequest(url: server.baseURL + "/slow", timeout: .milliseconds(300)))
        }
        #expect(error?.code == .timeout)
        #expect(error?.curlCode == 28)
        // Long before the answer would come (the bound leaves room for a loaded CI machine).
        #expect(ContinuousClock.now - started < .seconds(4))
    }

    @Test("nothing listening gives .couldNotConnect")
    func connectionRefused() async throws {
        let server = try LoopbackHTTPServer { _ in .text(200, "") }
        let deadURL = server.baseURL + "/"
        server.stop()
        let client = OutboundClient()
        defer { client.shutdown() }

        let error = await #expect(throws: OutboundError.self) {
            _ = try await client.send(HTTPRequest(url: deadURL, timeout: .seconds(5)))
        }
        #expect(error?.code == .couldNotConnect)
    }

    @Test("cancelling the task aborts the transfer promptly with .cancelled")
    func cancellation() async throws {
        let server = try LoopbackHTTPServer { _ in .text(200, "too late") }
        server.latency = .seconds(5)
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        let task = Task {
            try await client.send(HTTPRequest(url: server.baseURL + "/slow", timeout: .seconds(30)))
        }
        // Cancel once the server has the request (a fixed sleep was too short on a loaded machine).
        let deadline = ContinuousClock.now + .seconds(10)
        while server.requestCount == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let cancelledAt = ContinuousClock.now
        task.cancel()
        let result = await task.result
        // Long before the answer (5 s) or the timeout (30 s); room for a loaded CI machine.
        #expect(ContinuousClock.now - cancelledAt < .seconds(3))
        #expect(throws: OutboundError.self) { try result.get() }
        if case .failure(let error as OutboundError) = result {
            #expect(error.code == .cancelled)
        }
        #expect(server.requestCount == 1)
    }

    @Test("a task cancelled before sending never sends")
    func cancelledBeforeStart() async throws {
        let server = try LoopbackHTTPServer { _ in .text(200, "") }
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.send(HTTPRequest(url: server.baseURL + "/"))
        }
        let error = await #expect(throws: OutboundError.self) { try await task.value }
        #expect(error?.code == .cancelled)
        try await Task.sleep(for: .milliseconds(100))
        #expect(server.requestCount == 0)
    }

    @Test("after shutdown, sends fail with .cancelled")
    func afterShutdown() async throws {
        let client = OutboundClient()
        client.shutdown()
        client.shutdown()  // idempotent
        let error = await #expect(throws: OutboundError.self) {
            _ = try await client.send(HTTPRequest(url: "http://127.0.0.1:9/"))
        }
        #expect(error?.code == .cancelled)
    }

    @Test("header injection, bad methods and non-HTTP URLs are .invalidRequest")
    func invalidRequests() async throws {
        let server = try LoopbackHTTPServer { _ in .text(200, "") }
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        let bad = [
            HTTPRequest(url: server.baseURL + "/", headers: [HTTPHeader("X-A", "1\r\nX-Injected: 2")]),
            HTTPRequest(method: "GET /x", url: server.baseURL + "/"),
            HTTPRequest(url: "file:///etc/passwd"),
            HTTPRequest(url: "smtp://127.0.0.1:\(server.port)"),
        ]
        for request in bad {
            let error = await #expect(throws: OutboundError.self) { _ = try await client.send(request) }
            #expect(error?.code == .invalidRequest)
        }
        #expect(server.requestCount == 0)
    }

    @Test("https to a plain-HTTP port fails as .tls")
    func tlsFailure() async throws {
        let server = try LoopbackHTTPServer { _ in .text(200, "") }
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        let error = await #expect(throws: OutboundError.self) {
            _ = try await client.send(HTTPRequest(url: "https://127.0.0.1:\(server.port)/", timeout: .seconds(5)))
        }
        #expect(error?.code == .tls)
    }
}
