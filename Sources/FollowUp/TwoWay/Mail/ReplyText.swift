import Foundation

/// The new text of a reply: what the customer typed, without the quoted follow-up below it, the
/// client's "On … wrote:" line, or their signature.
///
/// Built from how the common clients format replies (the test fixtures are real samples):
/// - Gmail: `On Mon, Nov 28, 2026 at 10:00 AM Acme <…> wrote:` (the line may wrap), then `>`
///   lines; Korean: `2026년 11월 28일 (토) 오전 10:00, Acme <…>님이 작성:`; HTML in
///   `<div class="gmail_quote">`.
/// - Apple Mail: `On Nov 28, 2026, at 10:00, Acme <…> wrote:`; Korean `2026. 11. 28. 오전 10:00, … 작성:`;
///   HTML in `<blockquote type="cite">`; "Sent from my iPhone".
/// - Outlook: `-----Original Message-----`, or a `From:` / `Sent:` (`보낸 사람:` / `보낸 날짜:`)
///   block after a `____` rule; HTML from `<div id="divRplyFwdMsg">` or `<div id="appendonsend">`.
/// - Any client: `-- ` starts a signature (RFC 3676).
///
/// Plain text is preferred; a message with HTML only is turned into text first.
enum ReplyText {
    /// The new text of a reply, trimmed; empty when there is none.
    static func extract(plain: String?, html: String?) -> String {
        if let plain, !plain.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return strip(plain)
        }
        if let html { return strip(text(fromHTML: cutQuote(html))) }
        return ""
    }

    /// Cuts the quoted history and the signature off plain text.
    static func strip(_ text: String) -> String {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .components(separatedBy: "\n")
        var kept: [String] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix(">") { break }
            if line == "-- " || trimmed == "--" { break }
            if isSignOff(trimmed) { break }
            if isQuoteHeader(trimmed) { break }
            // An attribution line wrapped in two ("On …, Acme <…>" / "wrote:").
            if index + 1 < lines.count, isQuoteHeader(trimmed + " " + lines[index + 1].trimmingCharacters(in: .whitespaces)),
               !trimmed.isEmpty {
                break
            }
            if isOutlookHeaderBlock(lines, at: index) { break }
            kept.append(line)
            index += 1
        }
        return kept.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static let attribution = [
        #"^On .{4,300}wrote:$"#,                               // Gmail, Apple Mail (English)
        #"^Le .{4,300}a écrit ?:$"#, #"^Am .{4,300}schrieb .{1,200}:$"#,
        #"^\d{4}년 \d{1,2}월 \d{1,2}일.{0,300}(님이 작성|작성):?$"#,  // Gmail (Korean)
        #"^\d{4}\. ?\d{1,2}\. ?\d{1,2}\..{0,300}작성:?$"#,        // Apple Mail (Korean)
        #"^-{2,}\s*(Original Message|Forwarded message|원본 메시지|전달된 메시지)\s*-{2,}$"#,
        #"^_{10,}$"#,                                           // Outlook's rule above its header block
    ]

    static func isQuoteHeader(_ line: String) -> Bool {
        attribution.contains { line.range(of: $0, options: [.regularExpression, .caseInsensitive]) != nil }
    }

    private static let signOffs = [
        "sent from my iphone", "sent from my ipad", "sent from my android", "sent from my galaxy",
        "sent from outlook", "get outlook for ios", "get outlook for android", "sent from mail for windows",
        "iphone에서 보냄", "ipad에서 보냄", "galaxy에서 보냄", "삼성 갤럭시에서 보냄",
    ]

    static func isSignOff(_ line: String) -> Bool {
        let lower = line.lowercased()
        return signOffs.contains { lower.hasPrefix($0) }
    }

    /// Outlook's quoted header block: `From:` followed within two lines by `Sent:`/`Date:`
    /// (English or Korean labels).
    static func isOutlookHeaderBlock(_ lines: [String], at index: Int) -> Bool {
        func label(_ line: String, _ names: [String]) -> Bool {
            let trimmed = line.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "*", with: "")
            return names.contains { trimmed.lowercased().hasPrefix($0.lowercased()) }
        }
        guard label(lines[index], ["From:", "보낸 사람:"]) else { return false }
        return lines[(index + 1)..<min(lines.count, index + 4)].contains { label($0, ["Sent:", "Date:", "보낸 날짜:", "날짜:"]) }
    }

    // MARK: HTML

    /// Cuts an HTML body at the first marker of quoted history the common clients write.
    static func cutQuote(_ html: String) -> String {
        let markers = [
            #"<div[^>]*class="?[^">]*gmail_quote"#, #"<blockquote[^>]*type="?cite"#, #"<div[^>]*id="?divRplyFwdMsg"#,
            #"<div[^>]*id="?appendonsend"#, #"<div[^>]*class="?[^">]*(yahoo_quoted|moz-cite-prefix)"#, #"<hr[^>]*id="?stopSpelling"#,
            #"<blockquote"#,
        ]
        var cut = html.endIndex
        for marker in markers {
            if let range = html.range(of: marker, options: [.regularExpression, .caseInsensitive]), range.lowerBound < cut {
                cut = range.lowerBound
            }
        }
        return String(html[..<cut])
    }

    /// Visible text of an HTML fragment: tags out, line breaks kept, entities decoded.
    static func text(fromHTML html: String) -> String {
        var text = html
        for pattern in [#"<(script|style|head)[^>]*>[\s\S]*?</\1>"#, #"<!--[\s\S]*?-->"#] {
            text = text.replacingOccurrences(of: pattern, with: "", options: [.regularExpression, .caseInsensitive])
        }
        text = text.replacingOccurrences(of: #"\s*\n\s*"#, with: " ", options: .regularExpression)
        text = text.replacingOccurrences(of: #"<br\s*/?>"#, with: "\n", options: [.regularExpression, .caseInsensitive])
        text = text.replacingOccurrences(of: #"</(p|div|li|tr|h[1-6])>"#, with: "\n", options: [.regularExpression, .caseInsensitive])
        text = text.replacingOccurrences(of: #"<[^>]+>"#, with: "", options: .regularExpression)
        text = decodeEntities(text)
        let lines = text.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        return lines.joined(separator: "\n").replacingOccurrences(of: #"\n{3,}"#, with: "\n\n", options: .regularExpression)
    }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        let named = ["&nbsp;": " ", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#39;": "'", "&apos;": "'"]
        var out = text
        for (entity, value) in named where entity != "&amp;" { out = out.replacingOccurrences(of: entity, with: value) }
        while let range = out.range(of: #"&#(x[0-9A-Fa-f]+|[0-9]+);"#, options: .regularExpression) {
            let body = out[range].dropFirst(2).dropLast()
            let value = body.hasPrefix("x") || body.hasPrefix("X") ? UInt32(body.dropFirst(), radix: 16) : UInt32(body)
            out.replaceSubrange(range, with: value.flatMap(Unicode.Scalar.init).map { String(Character($0)) } ?? "")
        }
        return out.replacingOccurrences(of: "&amp;", with: "&")
    }
}
