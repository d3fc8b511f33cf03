import Fakes
import Foundation
import Outbound
import Testing

@Suite("MIMEMessage.render")
struct MIMEMessageTests {
    private let date = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 UTC

    private func lines(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
    }

    @Test("every line ends in CRLF; no bare CR or LF")
    func crlfEverywhere() {
        let bytes = MIMEMessage(
            from: MailAddress(address: "a@acme.example"), to: [MailAddress(address: "b@example.org")],
            subject: "Hi", messageID: "<x@acme.example>", date: date,
            textBody: "one\ntwo\r\nthree\rfour", htmlBody: "<p>one\ntwo</p>"
        ).render()
        #expect(bytes.suffix(2) == [0x0D, 0x0A])
        for (index, byte) in bytes.enumerated() {
            if byte == 0x0A { #expect(index > 0 && bytes[index - 1] == 0x0D) }
            if byte == 0x0D { #expect(index + 1 < bytes.count && bytes[index + 1] == 0x0A) }
        }
        #expect(ParsedMail(bytes).textBody == "one\r\ntwo\r\nthree\r\nfour")
    }

    @Test("standard headers: MIME-Version, Date in RFC 5322 form, Message-ID in brackets, Reply-To")
    func standardHeaders() {
        let bytes = MIMEMessage(
            from: MailAddress(name: "Acme Support", address: "support@acme.example"),
            to: [MailAddress(address: "b@example.org"), MailAddress(name: "Kim \"K\" Lee", address: "k@example.org")],
            replyTo: MailAddress(address: "reply@acme.example"),
            subject: "Plain subject", messageID: "abc.123@acme.example", date: date, textBody: "hi",
            extraHeaders: [HTTPHeader("List-Unsubscribe", "<mailto:u@acme.example>")]
        ).render()
        let parsed = ParsedMail(bytes)
        #expect(parsed.header("MIME-Version") == "1.0")
        #expect(parsed.header("Date") == "Tue, 14 Nov 2023 22:13:20 +0000")
        #expect(parsed.header("Message-ID") == "<abc.123@acme.example>")
        #expect(parsed.header("From") == "\"Acme Support\" <support@acme.example>")
        #expect(parsed.header("To") == "<b@example.org>, \"Kim \\\"K\\\" Lee\" <k@example.org>")
        #expect(parsed.header("Reply-To") == "<reply@acme.example>")
        #expect(parsed.header("Subject") == "Plain subject")
        #expect(parsed.header("List-Unsubscribe") == "<mailto:u@acme.example>")
        #expect(parsed.header("Content-Type") == "text/plain; charset=UTF-8")
        #expect(parsed.header("Content-Transfer-Encoding") == "base64")
        #expect(parsed.parts.count == 1)
        #expect(parsed.textBody == "hi")
    }

    @Test("a non-ASCII subject becomes UTF-8 base64 encoded-words, folded, each at most 75 columns")
    func encodedWordSubject() {
        let subject = "새 메시지가 도착했어요 🎉 — 상담원이 답장을 보냈습니다. 확인해 주세요! 👩‍💻"
        let bytes = MIMEMessage(
            from: MailAddress(name: "Acme 고객지원", address: "support@acme.example"), to: [MailAddress(address: "b@example.org")],
            subject: subject, messageID: "<m@acme.example>", date: date, textBody: "x"
        ).render()
        let all = lines(bytes)
        let start = all.firstIndex { $0.hasPrefix("Subject: ") }!
        var subjectLines = [all[start]]
        for line in all[(start + 1)...] {
            guard line.hasPrefix(" ") else { break }
            subjectLines.append(line)
        }
        #expect(subjectLines.count > 1, "a long subject is folded")
        for line in subjectLines {
            #expect(line.utf8.count <= 76)
            #expect(line.allSatisfy { $0.isASCII })
        }
        let words = subjectLines.joined().dropFirst("Subject: ".count).split(separator: " ")
        for word in words {
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            #expect(word.count <= 75)
        }
        let parsed = ParsedMail(bytes)
        #expect(parsed.decodedHeader("Subject") == subject)
        #expect(parsed.header("From")?.hasPrefix("=?UTF-8?B?") == true)
        #expect(parsed.decodedHeader("From") == "Acme 고객지원 <support@acme.example>")
    }

    @Test("with HTML: multipart/alternative, text then html, boundaries closed, bodies decode back")
    func multipartAlternative() throws {
        let text = "안녕하세요 👋\n상담원: 주문하신 상품은 내일 도착합니다.\n" + String(repeating: "긴 줄 ", count: 40)
        let html = "<html><body><p>안녕하세요 👋</p><p>내일 도착합니다.</p></body></html>"
        let bytes = MIMEMessage(
            from: MailAddress(address: "a@acme.example"), to: [MailAddress(address: "b@example.org")],
            subject: "Re: 주문", messageID: "<m@acme.example>", date: date, textBody: text, htmlBody: html
        ).render()
        let parsed = ParsedMail(bytes)
        let contentType = try #require(parsed.header("Content-Type"))
        #expect(contentType.hasPrefix("multipart/alternative; boundary=\""))
        let boundary = String(contentType.split(separator: "\"")[1])

        let all = lines(bytes)
        #expect(all.filter { $0 == "--" + boundary }.count == 2)
        #expect(all.filter { $0 == "--" + boundary + "--" }.count == 1)
        #expect(all.firstIndex(of: "--" + boundary + "--")! > all.lastIndex(of: "--" + boundary)!)

        #expect(parsed.parts.map(\.contentType) == ["text/plain", "text/html"])
        for part in parsed.parts {
            #expect(part.headers.first { $0.name == "Content-Type" }?.value.hasSuffix("; charset=UTF-8") == true)
            #expect(part.headers.first { $0.name == "Content-Transfer-Encoding" }?.value == "base64")
        }
        #expect(parsed.textBody == text.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(parsed.htmlBody == html)

        // Base64 body lines are at most 76 columns.
        let bodyLines = all.drop { !$0.isEmpty }.filter { !$0.isEmpty && !$0.contains(":") && !$0.hasPrefix("--") && !$0.hasPrefix("This is") }
        #expect(!bodyLines.isEmpty)
        #expect(bodyLines.allSatisfy { $0.count <= 76 })
        #expect(bodyLines.dropLast().contains { $0.count == 76 })
    }

    @Test("CR/LF in header values cannot inject headers")
    func headerInjection() {
        let bytes = MIMEMessage(
            from: MailAddress(name: "Evil\r\nBcc: victim@example.org", address: "a@acme.example"),
            to: [MailAddress(address: "b@example.org\r\nBcc: x@example.org")],
            subject: "Hello\r\nBcc: victim@example.org", messageID: "<m@acme.example>", date: date, textBody: "x"
        ).render()
        let parsed = ParsedMail(bytes)
        #expect(parsed.header("Bcc") == nil)
        #expect(!lines(bytes).contains { $0.hasPrefix("Bcc:") })
    }

    @Test("rendering is deterministic")
    func deterministic() {
        let message = MIMEMessage(
            from: MailAddress(address: "a@acme.example"), to: [MailAddress(address: "b@example.org")],
            subject: "s", messageID: "<m@acme.example>", date: date, textBody: "t", htmlBody: "<p>t</p>")
        #expect(message.render() == message.render())
    }
}
