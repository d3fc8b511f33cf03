import Foundation

/// A mailbox: an address with an optional display name.
public struct MailAddress: Sendable, Hashable {
    /// The display name, e.g. `Acme Support`; any Unicode.
    public var name: String?
    /// The bare address, e.g. `support@acme.example`.
    public var address: String

    public init(name: String? = nil, address: String) {
        self.name = name
        self.address = address
    }

    /// The address if it is one mailbox that SMTP and a `To:` header can both carry unchanged:
    /// `local@domain`, at most 254 bytes (local part 64), printable with no spaces, quotes,
    /// angle brackets, commas or control characters, one `@`, a dotted domain. Nil otherwise.
    /// Send to the result in the envelope *and* the header, so the two cannot differ.
    public static func validated(_ address: String, name: String? = nil) -> MailAddress? {
        let bytes = Array(address.utf8)
        guard bytes.count <= 254, let at = bytes.firstIndex(of: UInt8(ascii: "@")),
              at > 0, at <= 64, at < bytes.count - 1, bytes.lastIndex(of: UInt8(ascii: "@")) == at else { return nil }
        let forbidden: Set<UInt8> = Set("<>()[]\\,;:\" ".utf8)
        guard !bytes.contains(where: { $0 < 0x21 || $0 == 0x7F || forbidden.contains($0) }) else { return nil }
        let domain = bytes[(at + 1)...]
        guard domain.contains(UInt8(ascii: ".")), domain.first != UInt8(ascii: "."), domain.last != UInt8(ascii: ".") else { return nil }
        return MailAddress(name: name, address: address)
    }
}

/// An email with a plain-text body and an optional HTML alternative, rendered
/// to RFC 5322 / MIME bytes for ``MailSubmission/message``.
///
/// Non-ASCII subjects and display names become RFC 2047 encoded-words; bodies
/// are UTF-8, base64 in 76-column lines; every line ends in CRLF. Rendering is
/// deterministic: the same message renders to the same bytes. Header
/// values have CR and LF replaced, so user text cannot inject headers.
public struct MIMEMessage: Sendable {
    public var from: MailAddress
    public var to: [MailAddress]
    public var replyTo: MailAddress?
    public var subject: String
    /// The Message-ID, with or without the angle brackets; see ``makeMessageID(domain:)``.
    public var messageID: String
    public var date: Date
    public var textBody: String
    /// When set, the message is `multipart/alternative`: the text part, then this.
    public var htmlBody: String?
    /// More header fields, written after the standard ones (e.g. `List-Unsubscribe`).
    public var extraHeaders: [HTTPHeader]

    public init(
        from: MailAddress,
        to: [MailAddress],
        replyTo: MailAddress? = nil,
        subject: String,
        messageID: String,
        date: Date = Date(),
        textBody: String,
        htmlBody: String? = nil,
        extraHeaders: [HTTPHeader] = []
    ) {
        self.from = from
        self.to = to
        self.replyTo = replyTo
        self.subject = subject
        self.messageID = messageID
        self.date = date
        self.textBody = textBody
        self.htmlBody = htmlBody
        self.extraHeaders = extraHeaders
    }

    /// A fresh, globally unique Message-ID such as `<3F2A…@example.com>`.
    public static func makeMessageID(domain: String) -> String {
        "<\(UUID().uuidString.lowercased())@\(domain)>"
    }

    /// The complete message: headers, a blank line, the body; CRLF line endings.
    public func render() -> [UInt8] {
        var head: [String] = []
        head.append(MIMEHeader.fold("From", MIMEHeader.mailbox(from)))
        head.append(MIMEHeader.fold("To", to.map(MIMEHeader.mailbox).joined(separator: ", ")))
        if let replyTo { head.append(MIMEHeader.fold("Reply-To", MIMEHeader.mailbox(replyTo))) }
        head.append(MIMEHeader.fold("Subject", MIMEHeader.encodeIfNeeded(subject)))
        head.append("Date: " + InternetDate.string(from: date))
        head.append("Message-ID: <\(MIMEHeader.unbracketed(MIMEHeader.sanitized(messageID)))>")
        head.append("MIME-Version: 1.0")
        for header in extraHeaders {
            let name = String(header.name.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F && $0 != ":" })
            guard !name.isEmpty else { continue }
            head.append(MIMEHeader.fold(name, MIMEHeader.encodeIfNeeded(header.value)))
        }

        var lines = head
        if let htmlBody {
            let boundary = MIMEBody.boundary(for: [messageID, subject, textBody, htmlBody])
            lines.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("This is a multi-part message in MIME format.")
            for (type, text) in [("text/plain", textBody), ("text/html", htmlBody)] {
                lines.append("--" + boundary)
                lines.append(contentsOf: MIMEBody.partHeaders(type))
                lines.append("")
                lines.append(contentsOf: MIMEBody.base64Lines(text))
            }
            lines.append("--" + boundary + "--")
        } else {
            lines.append(contentsOf: MIMEBody.partHeaders("text/plain"))
            lines.append("")
            lines.append(contentsOf: MIMEBody.base64Lines(textBody))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(lines.reduce(0) { $0 + $1.utf8.count + 2 })
        for line in lines {
            bytes.append(contentsOf: line.utf8)
            bytes.append(0x0D)
            bytes.append(0x0A)
        }
        return bytes
    }
}

/// Body encoding: UTF-8, canonical CRLF line breaks, base64 in 76-column lines.
enum MIMEBody {
    static func partHeaders(_ type: String) -> [String] {
        ["Content-Type: \(type); charset=UTF-8", "Content-Transfer-Encoding: base64"]
    }

    /// A boundary that cannot occur in base64 lines (they never contain `=_`),
    /// derived from the content so that rendering is deterministic.
    static func boundary(for parts: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for part in parts {
            for byte in part.utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
            hash = (hash ^ 0xFF) &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return "=_followup_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func base64Lines(_ text: String) -> [String] {
        // Canonical line breaks on the UTF-8 bytes: CRLF, CR and LF all become CRLF.
        var canonical: [UInt8] = []
        canonical.reserveCapacity(text.utf8.count + text.utf8.count / 32)
        var afterCR = false
        for byte in text.utf8 {
            if byte == 0x0A && afterCR {
                afterCR = false
                continue  // the LF of a CRLF already written
            }
            afterCR = byte == 0x0D
            if byte == 0x0D || byte == 0x0A {
                canonical.append(0x0D)
                canonical.append(0x0A)
            } else {
                canonical.append(byte)
            }
        }
        let encoded = Array(Data(canonical).base64EncodedString().utf8)
        return stride(from: 0, to: encoded.count, by: 76).map {
            String(decoding: encoded[$0..<min($0 + 76, encoded.count)], as: UTF8.self)
        }
    }
}

/// Header encoding: RFC 2047 encoded-words, mailboxes, folding, dates.
enum MIMEHeader {
    /// CR, LF and other controls become spaces: no header injection through values.
    static func sanitized(_ value: String) -> String {
        // Controls are single UTF-8 bytes (no multi-byte sequence has a byte below 0x80).
        guard value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return value }
        return String(String.UnicodeScalarView(value.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7F ? " " : $0
        }))
    }

    /// An angle bracket or a space: what an address or a Message-ID is stripped of.
    private static func isBracketOrSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: " ")
    }

    /// `value` without its leading and trailing angle brackets and spaces.
    static func unbracketed(_ value: String) -> String {
        let bytes = Array(value.utf8)
        guard let first = bytes.firstIndex(where: { !isBracketOrSpace($0) }),
              let last = bytes.lastIndex(where: { !isBracketOrSpace($0) }) else {
            return ""
        }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    static func isPlainASCII(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// `value` as-is when printable ASCII (and not itself encoded-word-like), else
    /// space-separated `=?UTF-8?B?…?=` words of whole characters, each at most 64 columns.
    static func encodeIfNeeded(_ value: String) -> String {
        let clean = sanitized(value)
        if isPlainASCII(clean) && !clean.contains("=?") { return clean }
        return encodedWords(clean).joined(separator: " ")
    }

    static func encodedWords(_ value: String) -> [String] {
        // 39 bytes encode to 52 base64 columns: a 64-column word, so even
        // "Subject: " + word stays within 76 columns (RFC 2047 §2).
        let maxBytes = 39
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in value {
            let bytes = character.utf8
            if !chunk.isEmpty && chunk.count + bytes.count > maxBytes {
                words.append(word(chunk))
                chunk = []
            }
            chunk.append(contentsOf: bytes)  // a single oversized grapheme still stays whole
        }
        if !chunk.isEmpty || words.isEmpty { words.append(word(chunk)) }
        return words
    }

    private static func word(_ bytes: [UInt8]) -> String {
        "=?UTF-8?B?" + Data(bytes).base64EncodedString() + "?="
    }

    /// `Name <address>`, with the name quoted or encoded as needed.
    static func mailbox(_ mailbox: MailAddress) -> String {
        var address = sanitized(mailbox.address)
        if address.utf8.contains(where: isBracketOrSpace) {
            address = address.filter { $0 != "<" && $0 != ">" && $0 != " " }
        }
        guard let rawName = mailbox.name.map(sanitized), !rawName.isEmpty else { return "<\(address)>" }
        let name: String
        if isPlainASCII(rawName) && !rawName.contains("=?") {
            var escaped = ""
            for character in rawName {
                if character == "\\" || character == "\"" { escaped.append("\\") }
                escaped.append(character)
            }
            name = "\"\(escaped)\""
        } else {
            name = encodedWords(rawName).joined(separator: " ")
        }
        return "\(name) <\(address)>"
    }

    /// `Name: value`, folded at spaces so lines stay within 78 columns where possible (counted
    /// in bytes: header values are ASCII once encoded).
    static func fold(_ name: String, _ value: String) -> String {
        var lines: [String] = []
        var current = name + ":"
        for token in value.split(separator: " ", omittingEmptySubsequences: false) {
            if current.utf8.count + 1 + token.utf8.count > 78 && current.utf8.count > name.utf8.count + 1 {
                lines.append(current)
                current = ""
            }
            current += " " + token
        }
        lines.append(current)
        return lines.joined(separator: "\r\n")
    }
}

/// Dates as internet messages write them (RFC 5322, also Twilio's API): `Tue, 28 Nov 2023 09:53:00 +0000`, UTC.
public enum InternetDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func string(from date: Date) -> String {
        // gmtime_r, not Calendar or DateFormatter: building either per message cost more than the rest of it.
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // And no String(format:): its arguments go through Foundation's bridging.
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) +0000"
    }
}
