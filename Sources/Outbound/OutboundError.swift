import CCurl

/// Why an outbound HTTP request or mail submission failed.
///
/// Messages come from libcurl (or from this module) and never include request
/// bodies, message contents or credentials.
public struct OutboundError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. A struct over a private enum, so new codes can be
    /// added without breaking exhaustive `switch`es in callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case timeout, couldNotConnect, tls, sendFailed, receiveFailed
            case smtpRejected, invalidRequest, cancelled, other
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The transfer did not finish within `timeout` (connect or whole transfer).
        public static let timeout = Code(.timeout)
        /// The host could not be resolved or refused the connection.
        public static let couldNotConnect = Code(.couldNotConnect)
        /// The TLS handshake or certificate verification failed.
        public static let tls = Code(.tls)
        /// Sending the request failed after connecting.
        public static let sendFailed = Code(.sendFailed)
        /// Receiving the response failed (reset, empty reply, truncated body).
        public static let receiveFailed = Code(.receiveFailed)
        /// The SMTP server refused the sender, a recipient, the credentials or the message.
        public static let smtpRejected = Code(.smtpRejected)
        /// The request itself is malformed (bad URL, method, header, or protocol).
        public static let invalidRequest = Code(.invalidRequest)
        /// The calling task was cancelled, or the client was shut down.
        public static let cancelled = Code(.cancelled)
        /// Anything else libcurl reported.
        public static let other = Code(.other)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// libcurl's `CURLcode`, when the failure came from libcurl.
    public var curlCode: Int32?
    /// The last protocol response code (SMTP reply code, e.g. 550), when known.
    public var responseCode: Int?
    /// A human-readable explanation; safe to log.
    public var message: String

    public init(code: Code, curlCode: Int32? = nil, responseCode: Int? = nil, message: String) {
        self.code = code
        self.curlCode = curlCode
        self.responseCode = responseCode
        self.message = message
    }

    public var description: String {
        var details: [String] = []
        if let curlCode { details.append("curl \(curlCode)") }
        if let responseCode { details.append("reply \(responseCode)") }
        let suffix = details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")"
        return "OutboundError.\(code)\(suffix): \(message)"
    }
}

extension OutboundError {
    static func cancelledByTask() -> OutboundError {
        OutboundError(code: .cancelled, message: "the task was cancelled")
    }

    static func clientShutDown() -> OutboundError {
        OutboundError(code: .cancelled, message: "the OutboundClient was shut down")
    }

    static func invalid(_ message: String) -> OutboundError {
        OutboundError(code: .invalidRequest, message: message)
    }

    /// Maps a libcurl result to an error code (SMTP rejections are decided by the caller).
    static func code(for result: CURLcode) -> Code {
        switch result {
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .couldNotConnect
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_USE_SSL_FAILED,
            CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT:
            return .tls
        case CURLE_SEND_ERROR, CURLE_READ_ERROR:
            return .sendFailed
        case CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2,
            CURLE_HTTP2_STREAM, CURLE_WEIRD_SERVER_REPLY:
            return .receiveFailed
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT,
            CURLE_NOT_BUILT_IN:
            return .invalidRequest
        case CURLE_ABORTED_BY_CALLBACK:
            return .cancelled
        default:
            return .other
        }
    }
}
