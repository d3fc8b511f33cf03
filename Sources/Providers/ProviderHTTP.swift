import Foundation
import Outbound

/// What every HTTP adapter shares: the process-wide `OutboundClient` (so calls to all providers
/// are in flight at once), the provider's base URL, and the per-call time limit.
public struct ProviderEndpoint: Sendable {
    /// Shared by every adapter.
    public var client: OutboundClient
    /// e.g. `https://api.stripe.com`; a trailing slash is ignored. Tests point it at a fake.
    public var baseURL: String
    /// The limit for one call (connect + answer). A call that runs out throws retryable `.timeout`.
    public var timeout: Duration

    public init(client: OutboundClient, baseURL: String, timeout: Duration = .seconds(15)) {
        self.client = client
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeout = timeout
    }

    /// `baseURL + path` (path starts with `/`).
    func url(_ path: String) -> String { baseURL + path }

    /// Sends one request; transport failures become `ProviderError` (cancellation stays
    /// `CancellationError`). HTTP error statuses are returned, for the adapter to interpret.
    func send(_ method: String, _ path: String, headers: [HTTPHeader] = [], body: [UInt8] = [],
              preferHTTP2: Bool = false) async throws -> HTTPResponse {
        var request = HTTPRequest(method: method, url: url(path), headers: headers, body: body, timeout: timeout)
        request.preferHTTP2 = preferHTTP2
        do {
            return try await client.send(request)
        } catch let error as OutboundError {
            if error.code == .cancelled { throw CancellationError() }
            throw ProviderError.transport(error)
        }
    }
}

/// `application/x-www-form-urlencoded`, as Stripe and Twilio are called.
enum FormEncoding {
    /// RFC 3986 unreserved characters stay; every other UTF-8 byte is percent-encoded (space as
    /// %20). A byte loop: Foundation's `addingPercentEncoding` bridges through NSString.
    private static let hex = Array("0123456789ABCDEF".utf8)

    static func escape(_ text: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.append(byte)
            default:
                output.append(UInt8(ascii: "%"))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// `a=1&b=2`, fields in the given order.
    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }

    static func body(_ fields: [(String, String)]) -> [UInt8] {
        Array(encode(fields).utf8)
    }
}

/// JSON helpers shared by the adapters.
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from response: HTTPResponse) -> T? {
        try? JSONDecoder().decode(type, from: Data(response.body))
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? []
    }
}
