import CCurl

/// Sends HTTP(S) requests and submits mail over SMTP, many at once.
///
/// Each client owns one libcurl multi handle driven by one dedicated thread,
/// so hundreds of transfers can be in flight from one process while idle
/// connections are kept alive and reused. Create one per process (or per
/// provider group) and share it; it is `Sendable`.
///
/// ```swift
/// let client = OutboundClient()
/// let response = try await client.send(HTTPRequest(method: "POST", url: url, body: Array(json.utf8)))
/// ```
public final class OutboundClient: Sendable {
    private let loop: CurlMultiLoop

    /// - Parameters:
    ///   - maxConnectionsPerHost: open connections per host at most; more transfers wait their turn.
    ///   - maxTotalConnections: open connections at most, and the size of the keep-alive cache.
    public init(maxConnectionsPerHost: Int = 64, maxTotalConnections: Int = 256) {
        loop = CurlMultiLoop(maxConnectionsPerHost: maxConnectionsPerHost, maxTotalConnections: maxTotalConnections)
    }

    deinit {
        loop.shutdown()
    }

    /// Sends `request` and returns the final response, whatever its status.
    /// Redirects are not followed: a 3xx comes back as the response.
    ///
    /// - Throws: ``OutboundError``: `.timeout`, `.couldNotConnect`, `.tls`,
    ///   `.sendFailed`, `.receiveFailed`, `.invalidRequest`, or `.cancelled`
    ///   when the task is cancelled (the transfer is aborted promptly).
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let outcome = try await perform(.http(request))
        return HTTPResponse(status: outcome.status, headers: outcome.headers, body: outcome.body)
    }

    /// Submits `mail` to `server`: `MAIL FROM`, one `RCPT TO` per recipient, `DATA`.
    ///
    /// - Throws: ``OutboundError``; `.smtpRejected` (with ``OutboundError/responseCode``
    ///   when known) when the server refuses the credentials, sender, any recipient or the message.
    public func sendMail(_ mail: MailSubmission, via server: SMTPServer) async throws {
        _ = try await perform(.mail(mail, server))
    }

    /// Stops the client: in-flight and later transfers fail with `.cancelled`. Idempotent;
    /// dropping the last reference does the same.
    public func shutdown() {
        loop.shutdown()
    }

    private func perform(_ work: EasyTransfer.Work) async throws -> TransferOutcome {
        let transfer = EasyTransfer(work)
        let loop = self.loop
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.start(continuation, on: loop)
            }
        } onCancel: {
            transfer.cancel(on: loop)
        }
    }
}
