import Crypto
import _CryptoExtras
import Foundation

/// DKIM signing (RFC 6376): `rsa-sha256`, `relaxed/relaxed`, over a rendered message's exact
/// bytes. `sign(_:)` returns the message with a `DKIM-Signature` header field in front; those are
/// the bytes to hand to SMTP.
///
/// Signed header fields: every one of ``headersToSign`` the message has (From, To, Subject, Date,
/// Message-ID, MIME-Version, Content-Type, Content-Transfer-Encoding, Reply-To, List-Unsubscribe,
/// List-Unsubscribe-Post, In-Reply-To, References). From is signed once more than it occurs
/// ("over-signing"), so a From added on the way cannot ride on the signature.
public struct DKIMSigner: Sendable {
    public static let headersToSign = [
        "from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type",
        "content-transfer-encoding", "reply-to", "list-unsubscribe", "list-unsubscribe-post",
        "in-reply-to", "references",
    ]

    public let key: DKIMPrivateKey

    public init(key: DKIMPrivateKey) {
        self.key = key
    }

    /// `message` (CRLF line endings, headers, an empty line, the body) with a DKIM-Signature
    /// field prepended. `time` becomes the `t=` tag.
    public func sign(_ message: [UInt8], time: Date = Date()) throws -> [UInt8] {
        let (headers, body) = DKIMCanonical.split(message)
        let bodyHash = Data(SHA256.hash(data: DKIMCanonical.relaxedBody(body))).base64EncodedString()

        // Sign the listed fields the message has, each name once, the last occurrence first (§5.4.2).
        var signed: [String] = []
        var input: [UInt8] = []
        var used: [String: Int] = [:]
        for name in Self.headersToSign {
            let fields = headers.filter { $0.name == name }
            guard !fields.isEmpty else { continue }
            for field in fields.reversed() {
                signed.append(name)
                input += DKIMCanonical.relaxedHeader(field.raw) + [0x0D, 0x0A]
            }
            used[name] = fields.count
        }
        signed.append("from")  // over-signed: an empty instance (nothing is hashed for it)

        let timestamp = Int(time.timeIntervalSince1970.rounded(.down))
        // Folded between tags (relaxed canonicalization turns each fold into one space).
        var field = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=\(key.domain);\r\n"
            + "\ts=\(key.selector); t=\(timestamp);\r\n"
        field += DKIMCanonical.foldList("h=", signed.joined(separator: ":"), separator: ":") + ";\r\n"
        field += "\tbh=\(bodyHash);\r\n\tb="
        // The signature covers this field with an empty b=, without its final CRLF (§3.7).
        input += DKIMCanonical.relaxedHeader(Array(field.utf8))
        let signature = try key.signature(for: input)
        field += DKIMCanonical.foldBase64(signature.base64EncodedString()) + "\r\n"
        return Array(field.utf8) + message
    }
}

/// RFC 6376 §3.4: relaxed canonicalization, and splitting a message into header fields and body.
enum DKIMCanonical {
    struct Field {
        var name: String  // lowercased
        var raw: [UInt8]  // the whole field, continuation lines included, without the final CRLF
    }

    static func isWSP(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// The header fields and the body (after the empty line; empty if there is none).
    static func split(_ message: [UInt8]) -> ([Field], ArraySlice<UInt8>) {
        var fields: [Field] = []
        var index = 0
        var current: [UInt8]?
        func flush() {
            guard let raw = current else { return }
            let name = raw.prefix { $0 != UInt8(ascii: ":") }
            let trimmed = name.reversed().drop(while: isWSP).reversed()
            fields.append(Field(name: String(decoding: trimmed, as: UTF8.self).lowercased(), raw: raw))
            current = nil
        }
        while index < message.count {
            var end = index
            while end < message.count && message[end] != 0x0A { end += 1 }
            var line = Array(message[index..<end])
            if line.last == 0x0D { line.removeLast() }
            index = min(end + 1, message.count)
            if line.isEmpty {
                flush()
                return (fields, message[index...])
            }
            if isWSP(line[0]), current != nil {
                current! += [0x0D, 0x0A] + line
            } else {
                flush()
                current = line
            }
        }
        flush()
        return (fields, message[message.count...])
    }

    /// `name:value`: the name lowercased, the value unfolded, runs of whitespace one space,
    /// no whitespace at its ends or around the colon.
    static func relaxedHeader(_ raw: [UInt8]) -> [UInt8] {
        guard let colon = raw.firstIndex(of: UInt8(ascii: ":")) else { return raw }
        let name = raw[..<colon].filter { !isWSP($0) }.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        var value: [UInt8] = []
        var pendingSpace = false
        for byte in raw[(colon + 1)...] where byte != 0x0D && byte != 0x0A {
            if isWSP(byte) {
                pendingSpace = true
            } else {
                if pendingSpace && !value.isEmpty { value.append(0x20) }
                pendingSpace = false
                value.append(byte)
            }
        }
        return name + [UInt8(ascii: ":")] + value
    }

    /// Each line without trailing whitespace and with inner runs as one space; empty lines at
    /// the end removed; CRLF after the last line (nothing at all for an empty body).
    static func relaxedBody(_ body: ArraySlice<UInt8>) -> [UInt8] {
        var lines: [[UInt8]] = []
        var line: [UInt8] = []
        var pendingSpace = false
        var index = body.startIndex
        var sawAny = false
        while index < body.endIndex {
            let byte = body[index]
            index += 1
            sawAny = true
            if byte == 0x0D, index < body.endIndex, body[index] == 0x0A { continue }  // the LF ends it
            if byte == 0x0A {
                lines.append(line)
                line = []
                pendingSpace = false
                continue
            }
            if isWSP(byte) {
                pendingSpace = true
            } else {
                if pendingSpace { line.append(0x20) }
                pendingSpace = false
                line.append(byte)
            }
        }
        if sawAny && (!line.isEmpty || body.last != 0x0A) { lines.append(line) }  // a last line without CRLF
        while lines.last?.isEmpty == true { lines.removeLast() }
        var out: [UInt8] = []
        for line in lines { out += line + [0x0D, 0x0A] }
        return out
    }

    /// `tag` + a list, folded at the separator so lines stay short.
    static func foldList(_ tag: String, _ value: String, separator: Character) -> String {
        var out = "\t" + tag
        var column = out.count + 8
        for (index, part) in value.split(separator: separator).enumerated() {
            let piece = (index == 0 ? "" : String(separator)) + part
            if column + piece.count > 76 && index > 0 {
                out += "\r\n\t "
                column = 9
            }
            out += piece
            column += piece.count
        }
        return out
    }

    /// A base64 value in 72-column pieces (folding whitespace inside b= is ignored by verifiers).
    static func foldBase64(_ value: String) -> String {
        let bytes = Array(value.utf8)
        return stride(from: 0, to: bytes.count, by: 72)
            .map { String(decoding: bytes[$0..<min($0 + 72, bytes.count)], as: UTF8.self) }
            .joined(separator: "\r\n\t ")
    }
}
