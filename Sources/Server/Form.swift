import Foundation
import Hummingbird

/// `application/x-www-form-urlencoded` bodies, as providers post them: pairs in order, `+` as
/// space, percent-escapes decoded. A malformed escape makes the whole body unreadable (nil).
enum Form {
    static func parse(_ body: String) -> [(String, String)]? {
        guard !body.isEmpty else { return [] }
        var pairs: [(String, String)] = []
        for piece in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The first value of `name`.
    static func value(_ name: String, in pairs: [(String, String)]) -> String? {
        pairs.first { $0.0 == name }?.1
    }
}

extension Request {
    /// The body, at most `limit` bytes; nil when larger.
    mutating func bytes(limit: Int) async -> [UInt8]? {
        guard let buffer = try? await collectBody(upTo: limit) else { return nil }
        return Array(buffer.readableBytesView)
    }
}

extension Response {
    static func text(_ status: HTTPResponse.Status, _ text: String, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
