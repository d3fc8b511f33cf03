import Foundation
import Outbound

/// One header field of a received mail, unfolded.
public struct MailHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One leaf part of a received mail, transfer-decoded.
public struct MailPart: Sendable {
    /// The media type, lowercased and without parameters, e.g. `text/html`.
    public var contentType: String
    /// The part's own header fields.
    public var headers: [MailHeader]
    /// The decoded bytes (base64 and quoted-printable undone).
    public var content: [UInt8]

    /// The content as UTF-8 text.
    public var text: String { String(decoding: content, as: UTF8.self) }
}

/// A received message taken apart, so tests can check what a reader would see.
public struct ParsedMail: Sendable {
    /// The top-level header fields, unfolded, values as sent (encoded-words kept).
    public var headers: [MailHeader]
    /// The leaf parts in order; a single-part message has one.
    public var parts: [MailPart]

    public init(_ data: [UInt8]) {
        let (headers, body) = MailParsing.split(data)
        self.headers = headers
        self.parts = MailParsing.leafParts(headers: headers, body: body)
    }

    /// The first header field named `name` (case-insensitive), as sent.
    public func header(_ name: String) -> String? {
        MailParsing.first(name, in: headers)
    }

    /// The first header field named `name` with RFC 2047 encoded-words decoded.
    public func decodedHeader(_ name: String) -> String? {
        header(name).map(MailParsing.decodeEncodedWords)
    }

    /// The decoded text of the first `text/plain` part.
    public var textBody: String? { parts.first { $0.contentType == "text/plain" }?.text }

    /// The decoded text of the first `text/html` part.
    public var htmlBody: String? { parts.first { $0.contentType == "text/html" }?.text }
}

enum MailParsing {
    static let crlf: [UInt8] = [0x0D, 0x0A]

    static func first(_ name: String, in headers: [MailHeader]) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// Header fields (unfolded) and the body after the first empty line.
    static func split(_ data: [UInt8]) -> ([MailHeader], [UInt8]) {
        var headers: [MailHeader] = []
        var index = 0
        while index < data.count {
            let end = lineEnd(data, from: index)
            let line = String(decoding: data[index..<end.content], as: UTF8.self)
            index = end.next
            if line.isEmpty { break }
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += line  // unfold: drop only the CRLF
            } else if let colon = line.firstIndex(of: ":") {
                headers.append(MailHeader(
                    String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        return (headers, Array(data[min(index, data.count)...]))
    }

    private static func lineEnd(_ data: [UInt8], from start: Int) -> (content: Int, next: Int) {
        var index = start
        while index < data.count && data[index] != 0x0A { index += 1 }
        let content = index > start && data[index - 1] == 0x0D ? index - 1 : index
        return (content, min(index + 1, data.count))
    }

    static func leafParts(headers: [MailHeader], body: [UInt8]) -> [MailPart] {
        let contentType = first("Content-Type", in: headers) ?? "text/plain"
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "text/plain"
        if type.hasPrefix("multipart/"), let boundary = parameter("boundary", in: contentType) {
            return sections(of: body, boundary: boundary).flatMap { section in
                let (partHeaders, partBody) = split(section)
                return leafParts(headers: partHeaders, body: partBody)
            }
        }
        let encoding = first("Content-Transfer-Encoding", in: headers)?.lowercased() ?? "7bit"
        let content: [UInt8]
        switch encoding {
        case "base64": content = decodeBase64(String(decoding: body, as: UTF8.self))
        case "quoted-printable": content = decodeQuotedPrintable(body)
        default: content = body
        }
        return [MailPart(contentType: type, headers: headers, content: content)]
    }

    static func parameter(_ name: String, in value: String) -> String? {
        for piece in value.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == name else { continue }
            return pair[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return nil
    }

    /// The bytes between `--boundary` lines, up to `--boundary--`.
    static func sections(of body: [UInt8], boundary: String) -> [[UInt8]] {
        let delimiter = "--" + boundary
        var sections: [[UInt8]] = []
        var current: [UInt8]?
        var index = 0
        while index < body.count {
            let end = lineEnd(body, from: index)
            let line = String(decoding: body[index..<end.content], as: UTF8.self)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == delimiter + "--" {
                if let current { sections.append(current) }
                return sections
            } else if trimmed == delimiter {
                if let current { sections.append(current) }
                current = []
            } else if current != nil {
                current!.append(contentsOf: body[index..<end.content])
                current!.append(contentsOf: crlf)
            }
            index = end.next
        }
        if let current { sections.append(current) }
        return sections
    }

    static func decodeQuotedPrintable(_ body: [UInt8]) -> [UInt8] { MIMEDecoding.quotedPrintable(body) }

    /// Decodes `=?charset?B|Q?…?=` words (UTF-8 and ASCII charsets); whitespace between words is dropped.
    static func decodeEncodedWords(_ value: String) -> String {
        var output = ""
        var rest = Substring(value)
        var pendingSpace = ""
        var previousWasEncoded = false
        while !rest.isEmpty {
            if rest.hasPrefix("=?"), let (decoded, after) = decodeWord(rest) {
                if !previousWasEncoded { output += pendingSpace }
                pendingSpace = ""
                output += decoded
                rest = after
                previousWasEncoded = true
                continue
            }
            let character = rest.removeFirst()
            if character == " " || character == "\t" {
                pendingSpace.append(character)
            } else {
                output += pendingSpace
                pendingSpace = ""
                output.append(character)
                previousWasEncoded = false
            }
        }
        return output + pendingSpace
    }

    private static func decodeWord(_ text: Substring) -> (String, Substring)? {
        let pieces = text.dropFirst(2).split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
        guard pieces.count == 4, pieces[3].hasPrefix("="), pieces[2].allSatisfy({ $0 != " " }) else { return nil }
        let payload = String(pieces[2])
        let bytes: [UInt8]
        switch pieces[1].uppercased() {
        case "B":
            bytes = decodeBase64(payload)
        case "Q":
            bytes = decodeQuotedPrintable(Array(payload.replacingOccurrences(of: "_", with: " ").utf8))
        default:
            return nil
        }
        return (String(decoding: bytes, as: UTF8.self), pieces[3].dropFirst())
    }
}
