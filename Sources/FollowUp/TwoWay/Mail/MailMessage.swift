import Foundation
import Outbound

/// A received RFC 5322 message taken apart: header fields (unfolded, RFC 2047 encoded-words
/// decoded on request) and its MIME leaf parts with the transfer encoding (base64,
/// quoted-printable) undone and text decoded from its charset.
///
/// Lenient where mail is messy (bare LF line ends, missing final boundary, unknown charsets),
/// strict where it matters: no header block at all is a malformed message.
struct MailMessage: Sendable {
    struct Part: Sendable {
        /// Lower-cased media type without parameters, e.g. `text/plain`.
        var contentType: String
        var parameters: [String: String]
        var headers: [(name: String, value: String)]
        var content: [UInt8]
        var charset: String? { parameters["charset"] }
        var text: String { Charsets.decode(content, charset: charset) }
        var isAttachment: Bool {
            MailMessage.first("Content-Disposition", in: headers)?.lowercased().hasPrefix("attachment") ?? false
        }
    }

    var headers: [(name: String, value: String)]
    var contentType: String
    var parameters: [String: String]
    var parts: [Part]

    struct Malformed: Error {}

    init(_ raw: [UInt8]) throws {
        let (headers, body) = try Self.split(raw)
        guard !headers.isEmpty else { throw Malformed() }
        self.headers = headers
        (contentType, parameters) = Self.contentType(Self.first("Content-Type", in: headers))
        parts = Self.leaves(headers: headers, body: body, depth: 0)
    }

    /// The first field named `name` (case-insensitive), raw.
    func header(_ name: String) -> String? { Self.first(name, in: headers) }

    /// Every field named `name`, raw.
    func headers(_ name: String) -> [String] { headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value) }

    /// The first field named `name`, encoded-words decoded.
    func decodedHeader(_ name: String) -> String? { header(name).map(Self.decodeEncodedWords) }

    /// The first text part of this media type that is not an attachment.
    func text(_ type: String) -> String? {
        parts.first { $0.contentType == type && !$0.isAttachment }?.text
    }

    /// Addresses (`local@domain`, lower-cased) in an address-list field.
    static func addresses(_ value: String) -> [String] {
        var found: [String] = []
        let pattern = #"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+"#
        var rest = value[...]
        while let range = rest.range(of: pattern, options: .regularExpression) {
            found.append(rest[range].lowercased())
            rest = rest[range.upperBound...]
        }
        return found
    }

    // MARK: Parsing

    static func first(_ name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// Header fields (unfolded) and the body after the first empty line. CRLF or bare LF.
    static func split(_ raw: [UInt8]) throws -> ([(name: String, value: String)], [UInt8]) {
        var lines: [String] = []
        var index = 0
        var bodyStart = raw.count
        while index < raw.count {
            var end = index
            while end < raw.count && raw[end] != 0x0A { end += 1 }
            var lineEnd = end
            if lineEnd > index && raw[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let line = raw[index..<lineEnd]
            index = min(end + 1, raw.count)
            if line.isEmpty { bodyStart = index; break }
            lines.append(String(decoding: line, as: UTF8.self))
            if end >= raw.count { bodyStart = raw.count }
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            if let first = line.first, first == " " || first == "\t" {
                guard !headers.isEmpty else { throw MailMessage.Malformed() }
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                  !line[..<colon].contains(" ") else {
                // Not a header line: a message without a header block (or an mbox "From " line).
                if headers.isEmpty && line.hasPrefix("From ") { continue }
                throw MailMessage.Malformed()
            }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return (headers, bodyStart < raw.count ? Array(raw[bodyStart...]) : [])
    }

    /// `text/plain; charset="utf-8"` → ("text/plain", ["charset": "utf-8"]).
    static func contentType(_ value: String?) -> (String, [String: String]) {
        guard let value else { return ("text/plain", [:]) }
        let pieces = splitParameters(value)
        let type = pieces.first?.trimmingCharacters(in: .whitespaces).lowercased() ?? "text/plain"
        var parameters: [String: String] = [:]
        for piece in pieces.dropFirst() {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            let key = piece[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = piece[piece.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            parameters[key] = value
        }
        return (type.isEmpty ? "text/plain" : type, parameters)
    }

    /// Splits on `;` outside quotes.
    private static func splitParameters(_ value: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        for character in value {
            if character == "\"" { quoted.toggle() }
            if character == ";" && !quoted { pieces.append(current); current = ""; continue }
            current.append(character)
        }
        pieces.append(current)
        return pieces
    }

    /// The leaf parts of an entity, depth-first (multipart nested at most 10 deep).
    static func leaves(headers: [(name: String, value: String)], body: [UInt8], depth: Int) -> [Part] {
        let (type, parameters) = contentType(first("Content-Type", in: headers))
        if type.hasPrefix("multipart/"), let boundary = parameters["boundary"], !boundary.isEmpty, depth < 10 {
            return bodies(of: body, boundary: boundary).flatMap { part -> [Part] in
                guard let (partHeaders, partBody) = try? split(part) else { return [] }
                return leaves(headers: partHeaders, body: partBody, depth: depth + 1)
            }
        }
        let encoding = first("Content-Transfer-Encoding", in: headers)?.lowercased().trimmingCharacters(in: .whitespaces)
        let content: [UInt8]
        switch encoding {
        case "base64": content = base64(body)
        case "quoted-printable": content = quotedPrintable(body)
        default: content = body
        }
        return [Part(contentType: type, parameters: parameters, headers: headers, content: content)]
    }

    /// The bodies between `--boundary` lines.
    static func bodies(of body: [UInt8], boundary: String) -> [[UInt8]] {
        let delimiter = Array("--\(boundary)".utf8)
        var result: [[UInt8]] = []
        var current: [UInt8]?
        var index = 0
        while index < body.count {
            var end = index
            while end < body.count && body[end] != 0x0A { end += 1 }
            var lineEnd = end
            if lineEnd > index && body[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let line = Array(body[index..<lineEnd])
            let next = min(end + 1, body.count)
            if line.starts(with: delimiter) {
                let rest = line.dropFirst(delimiter.count)
                if let part = current { result.append(part) }
                if rest.starts(with: Array("--".utf8)) { return result }
                current = []
            } else if current != nil {
                current!.append(contentsOf: body[index..<next])
            }
            index = next
        }
        if let part = current { result.append(part) }
        return result
    }

    static func base64(_ bytes: [UInt8]) -> [UInt8] { MIMEDecoding.base64(bytes) }

    static func quotedPrintable(_ bytes: [UInt8], underscoreIsSpace: Bool = false) -> [UInt8] {
        MIMEDecoding.quotedPrintable(bytes, underscoreIsSpace: underscoreIsSpace)
    }

    /// RFC 2047: `=?charset?B|Q?text?=` words decoded; whitespace between adjacent words dropped.
    static func decodeEncodedWords(_ value: String) -> String {
        let pattern = #"=\?([^?]+)\?([BbQq])\?([^?]*)\?="#
        guard value.contains("=?") else { return value }
        var out = ""
        var rest = value[...]
        var lastWasWord = false
        while let range = rest.range(of: pattern, options: .regularExpression) {
            let between = rest[..<range.lowerBound]
            if !(lastWasWord && between.allSatisfy(\.isWhitespace)) { out += between }
            let word = rest[range].dropFirst(2).dropLast(2).split(separator: "?", omittingEmptySubsequences: false)
            if word.count == 3 {
                let charset = String(word[0].split(separator: "*").first ?? word[0])
                let bytes = word[1].uppercased() == "B"
                    ? base64(Array(word[2].utf8)) : quotedPrintable(Array(word[2].utf8), underscoreIsSpace: true)
                out += Charsets.decode(bytes, charset: charset)
            }
            lastWasWord = true
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
