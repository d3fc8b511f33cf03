import Foundation
import Outbound

/// A request as a loopback fake received it.
public struct FakeHTTPRequest: Sendable {
    /// The method, e.g. `POST`.
    public var method: String
    /// The path without the query, percent-encoding kept, e.g. `/v1/messages`.
    public var path: String
    /// The query parameters, decoded (`+` as space); the last of repeated names wins.
    public var query: [String: String]
    /// The header fields in the order received.
    public var headers: [HTTPHeader]
    /// The body (de-chunked when it was sent chunked).
    public var body: [UInt8]

    public init(method: String, path: String, query: [String: String] = [:], headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The first header field named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.value(of: name)
    }

    /// The body as UTF-8 text.
    public var bodyText: String {
        String(decoding: body, as: UTF8.self)
    }

    /// The body decoded as `application/x-www-form-urlencoded` (as Twilio and Stripe are called).
    public func formFields() -> [String: String] {
        FormDecoding.decode(bodyText)
    }
}

/// What a loopback fake answers: Outbound's `HTTPResponse` (the fakes and the client speak the
/// same types). `Content-Length` is added by the server.
public typealias FakeHTTPResponse = HTTPResponse

extension HTTPResponse {
    /// A response with the given header pairs, e.g. `[("Content-Type", "text/plain")]`.
    public init(status: Int, headers: [(String, String)], body: [UInt8] = []) {
        self.init(status: status, headers: headers.map { HTTPHeader($0.0, $0.1) }, body: body)
    }

    /// An `application/json` response with `text` as the body.
    public static func json(_ status: Int, _ text: String) -> FakeHTTPResponse {
        FakeHTTPResponse(status: status, headers: [HTTPHeader("Content-Type", "application/json")], body: Array(text.utf8))
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ status: Int, _ text: String) -> FakeHTTPResponse {
        FakeHTTPResponse(status: status, headers: [HTTPHeader("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }
}

/// `application/x-www-form-urlencoded` and query-string decoding.
enum FormDecoding {
    static func decode(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = component(String(parts[0]))
            fields[name] = parts.count > 1 ? component(String(parts[1])) : ""
        }
        return fields
    }

    /// `+` is a space and `%XX` a byte (a malformed escape stays as written).
    static func component(_ text: String) -> String {
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        let input = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "+") {
                output.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < input.count,
                      let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2]) {
                output.append(high << 4 | low)
                index += 2
            } else {
                output.append(byte)
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// HTTP/1.1 request parsing and response writing for ``LoopbackHTTPServer``.
enum HTTPWire {
    struct Received {
        var request: FakeHTTPRequest
        var keepAlive: Bool
    }

    enum Failure: Error {
        case closed
        case malformed
    }

    /// Reads one request; `.closed` at a clean end of stream between requests.
    static func readRequest(from connection: Connection) throws(Failure) -> Received {
        var requestLine: [UInt8]
        repeat {  // tolerate empty lines between requests (RFC 9112 §2.2)
            guard let line = connection.readLine(limit: 65_536) else { throw .closed }
            requestLine = line
        } while requestLine.isEmpty
        let parts = String(decoding: requestLine, as: UTF8.self).split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { throw .malformed }
        let method = String(parts[0])
        let target = String(parts[1])
        let version = String(parts[2])

        var headers: [HTTPHeader] = []
        while true {
            guard let raw = connection.readLine(limit: 65_536) else { throw .malformed }
            if raw.isEmpty { break }
            let line = String(decoding: raw, as: UTF8.self)
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw .malformed }
            headers.append(HTTPHeader(
                String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func header(_ name: String) -> String? { headers.value(of: name) }

        if header("expect")?.lowercased() == "100-continue" {
            connection.write("HTTP/1.1 100 Continue\r\n\r\n")
        }

        var body: [UInt8] = []
        if header("transfer-encoding")?.lowercased().contains("chunked") == true {
            body = try readChunked(from: connection)
        } else if let length = header("content-length") {
            guard let count = Int(length), count >= 0, let bytes = connection.read(count: count) else { throw .malformed }
            body = bytes
        }

        let connectionHeader = header("connection")?.lowercased() ?? ""
        let keepAlive = version == "HTTP/1.1" ? !connectionHeader.contains("close") : connectionHeader.contains("keep-alive")

        var path = target
        var query: [String: String] = [:]
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            query = FormDecoding.decode(String(target[target.index(after: mark)...]))
        }
        return Received(
            request: FakeHTTPRequest(method: method, path: path, query: query, headers: headers, body: body),
            keepAlive: keepAlive)
    }

    private static func readChunked(from connection: Connection) throws(Failure) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            guard let sizeLine = connection.readLine(limit: 1024) else { throw .malformed }
            let sizeText = String(decoding: sizeLine, as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else { throw .malformed }
            if size == 0 {
                // Trailers, up to the empty line.
                while true {
                    guard let trailer = connection.readLine(limit: 65_536) else { throw .malformed }
                    if trailer.isEmpty { return body }
                }
            }
            guard let chunk = connection.read(count: size), connection.readLine(limit: 2)?.isEmpty == true else {
                throw .malformed
            }
            body.append(contentsOf: chunk)
        }
    }

    /// The response's bytes; `headOnly` (for HEAD) keeps Content-Length but drops the body.
    static func responseBytes(_ response: FakeHTTPResponse, keepAlive: Bool, headOnly: Bool = false) -> [UInt8] {
        var head = "HTTP/1.1 \(response.status) \(reason(response.status))\r\n"
        for header in response.headers where !["content-length", "connection", "transfer-encoding"].contains(header.name.lowercased()) {
            head += "\(header.name): \(header.value)\r\n"
        }
        head += "Content-Length: \(response.body.count)\r\n"
        head += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        return Array(head.utf8) + (headOnly ? [] : response.body)
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 409: "Conflict"
        case 410: "Gone"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
