import Foundation
import Outbound

/// An HTTP/1.1 server on 127.0.0.1 that answers every request with `handler`:
/// the base of the provider fakes (push, messenger, SMS, payments) in tests and
/// in `followup demo`.
///
/// One thread per connection, keep-alive, `Content-Length` or chunked request
/// bodies, `Expect: 100-continue`. ``latency`` delays each answer without
/// holding up other connections, like a real provider's round trip;
/// ``injectFault(_:times:method:path:)`` makes it hang, drop, answer garbage, 429 or
/// vanish (`FakeFault`).
///
/// ```swift
/// let server = try LoopbackHTTPServer { request in .json(200, #"{"ok":true}"#) }
/// defer { server.stop() }
/// ```
public final class LoopbackHTTPServer: Sendable {
    public typealias Handler = @Sendable (FakeHTTPRequest) -> FakeHTTPResponse

    private struct State {
        var handler: Handler
        var latency: Duration = .zero
        var requests: [FakeHTTPRequest] = []
        var connectionsAccepted = 0
        var faults = FaultPlan()
    }

    private let listener: LoopbackListener
    private let state: Locked<State>

    /// Starts listening on 127.0.0.1 at a free port.
    public init(handler: @escaping Handler) throws {
        let state = Locked(State(handler: handler))
        self.state = state
        listener = try LoopbackListener(name: "http", accepted: { state.withLock { $0.connectionsAccepted += 1 } }) { connection in
            Self.serve(connection, state: state)
        }
    }

    deinit {
        stop()
    }

    /// The port the server listens on.
    public var port: Int { listener.port }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// How long to wait before answering each request (default zero). Thread-safe.
    public var latency: Duration {
        get { state.withLock { $0.latency } }
        set { state.withLock { $0.latency = newValue } }
    }

    /// Replaces the handler for requests received from now on. Thread-safe.
    public var handler: Handler {
        get { state.withLock { $0.handler } }
        set { state.withLock { $0.handler = newValue } }
    }

    /// Everything received so far, in arrival order.
    public var requests: [FakeHTTPRequest] { state.withLock { $0.requests } }

    /// How many requests were received so far.
    public var requestCount: Int { state.withLock { $0.requests.count } }

    /// How many TCP connections were accepted so far (keep-alive reuse keeps this low).
    public var connectionCount: Int { state.withLock { $0.connectionsAccepted } }

    /// Injects `fault` into the next `times` requests with this method (nil: any) whose path
    /// starts with `path` (nil: any). Faults queue up in the order given; the first match applies.
    public func injectFault(_ fault: FakeFault, times: Int = Int.max, method: String? = nil, path: String? = nil) {
        state.withLock { $0.faults.entries.append(.init(fault: fault, method: method, path: path, remaining: times)) }
    }

    /// Removes every injected fault: answers normally from now on.
    public func clearFaults() {
        state.withLock { $0.faults.entries = [] }
    }

    /// Forgets the requests received so far.
    public func clearRequests() {
        state.withLock { $0.requests = [] }
    }

    /// Closes the listening socket and every connection. Idempotent.
    public func stop() {
        listener.stop()
    }

    private static func serve(_ connection: Connection, state: Locked<State>) {
        while true {
            let received: HTTPWire.Received
            do {
                received = try HTTPWire.readRequest(from: connection)
            } catch .closed {
                return
            } catch {
                connection.write(HTTPWire.responseBytes(.text(400, "malformed request"), keepAlive: false))
                return
            }
            let (handler, latency, fault) = state.withLock { state in
                let fault = state.faults.take(received.request)
                if fault != .unreachable { state.requests.append(received.request) }
                return (state.handler, state.latency, fault)
            }
            if fault == .unreachable { return }  // closed without an answer, never handled
            if latency > .zero { blockThread(for: latency) }
            var response: FakeHTTPResponse
            switch fault {
            case .status(let status, let retryAfter)?:
                response = .json(status, #"{"error":"injected fault","status":\#(status)}"#)
                if let retryAfter { response.headers.append(HTTPHeader("Retry-After", retryAfter)) }
            case .hangAfterHandling(let duration)?:
                response = handler(received.request)
                blockThread(for: duration)
            case .dropAfterHandling?:
                _ = handler(received.request)
                return
            case .garbageSuccess?:
                _ = handler(received.request)
                response = FakeHTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array("<html>502 Bad Gatew".utf8))
            case .unreachable?, nil:
                response = handler(received.request)
            }
            let bytes = HTTPWire.responseBytes(response, keepAlive: received.keepAlive, headOnly: received.request.method == "HEAD")
            guard connection.write(bytes), received.keepAlive else { return }
        }
    }
}

/// Blocks the calling (dedicated) thread for `duration`.
func blockThread(for duration: Duration) {
    let (seconds, attoseconds) = duration.components
    Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
}
