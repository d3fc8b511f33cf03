/// One HTTP header field.
public struct HTTPHeader: Sendable, Hashable {
    /// The field name, e.g. `Content-Type`. Compared case-insensitively by lookups.
    public var name: String
    /// The field value, without surrounding whitespace.
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.init(name: name, value: value)
    }
}

extension Array where Element == HTTPHeader {
    /// The value of the first field named `name` (case-insensitive), if any: how requests and
    /// responses (ours and the fakes') look a header up.
    public func value(of name: String) -> String? {
        let wanted = name.lowercased()
        return first { $0.name.lowercased() == wanted }?.value
    }
}

/// An HTTP(S) request to send with ``OutboundClient/send(_:)``.
public struct HTTPRequest: Sendable {
    /// The method, e.g. `GET`, `POST`, `PUT`, `DELETE`. Any token is sent as-is.
    public var method: String
    /// The absolute `http://` or `https://` URL, query included.
    public var url: String
    /// Header fields sent in order. `Content-Length` and `Host` are set by libcurl.
    public var headers: [HTTPHeader]
    /// The request body; sent whenever non-empty, and always (possibly empty) for POST, PUT and PATCH.
    public var body: [UInt8]
    /// The limit for the whole transfer; also the limit for connecting.
    public var timeout: Duration
    /// Verify the server's TLS certificate and host name. On by default; turn off only for local fakes.
    public var verifyTLS: Bool = true
    /// Negotiate HTTP/2 over TLS (APNs requires it). Plain `http://` stays on HTTP/1.1.
    public var preferHTTP2: Bool = false

    public init(
        method: String = "GET",
        url: String,
        headers: [HTTPHeader] = [],
        body: [UInt8] = [],
        timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// The final response to an ``HTTPRequest`` (after any `100 Continue`).
public struct HTTPResponse: Sendable {
    /// The status code, e.g. 200. Error statuses are responses, not thrown errors.
    public var status: Int
    /// The header fields of the final response, in the order received.
    public var headers: [HTTPHeader]
    /// The response body, exactly as received (no content decoding).
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the first header field named `name` (case-insensitive), if any.
    public func header(_ name: String) -> String? {
        headers.value(of: name)
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyText: String {
        String(decoding: body, as: UTF8.self)
    }
}
