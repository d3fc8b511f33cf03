import Fakes
import Foundation
import Outbound
@testable import Providers
import Testing
import TestSupport

/// DKIM signatures checked by an independent implementation: dkimpy (scripts/dkim_verify.py),
/// given the DKIM record the product tells the company to publish.
@Suite("DKIM signing, verified by dkimpy", .serialized)
struct DKIMSignerTests {
    static let key = try! DKIMPrivateKey.generate(domain: "acme.example", selector: "followup1")

    static func email(subject: String = "Acme replied to your chat", text: String = "Hello!\nYou have a new message.",
                      html: String = "", fromName: String = "Acme Support", toName: String? = "Kim") -> EmailMessage {
        EmailMessage(fromName: fromName, fromAddress: "help@acme.example", to: "kim@example.com", toName: toName,
                     replyTo: "chat-42@reply.followup.example", subject: subject, text: text, html: html,
                     messageID: "<followup-delivery-42@reply.followup.example>", dkim: key)
    }

    /// The messages the product renders, each as `SMTPEmail` hands it to SMTP.
    static let cases: [(String, EmailMessage)] = [
        ("plain", email()),
        ("html_and_text", email(text: "Hello!\n\nOpen the chat: https://chat.acme.example/chats/42\n",
                                html: "<!DOCTYPE html>\n<html><body><p>Hello!</p>\n<p><a href=\"https://chat.acme.example/chats/42\">Open</a></p></body></html>\n")),
        ("korean", email(subject: "Acme Shop에서 답변이 도착했습니다 — 반품 절차 안내", text: "안녕하세요, 김민지님.\n반품은 주문 후 14일 이내에 가능합니다.\n",
                         html: "<p>안녕하세요, 김민지님.</p><p>반품은 주문 후 14일 이내에 가능합니다.</p>",
                         fromName: "에이크미 고객센터", toName: "김민지")),
        ("long_lines", email(subject: String(repeating: "A very long subject that must be folded ", count: 6),
                             text: String(repeating: "word ", count: 2_000) + "\n" + String(repeating: "x", count: 5_000),
                             html: "<p>" + String(repeating: "long html line ", count: 1_000) + "</p>")),
        ("no_final_newline", email(text: "The last line has no line break", html: "<p>no newline at the end</p>")),
    ]

    @Test("rendered emails verify: plain, HTML + text, Korean, long lines, no final newline")
    func renderedEmailsVerify() throws {
        var files: [String: [UInt8]] = [:]
        for (name, email) in Self.cases {
            files[name] = try SMTPEmail.bytes(for: email)
        }
        let verdicts = try DKIMVerifier.run(files, key: Self.key)
        for (name, _) in Self.cases {
            #expect(verdicts[name] == "pass", "\(name): \(verdicts[name] ?? "no verdict")")
        }
    }

    @Test("one changed byte — in the body, a signed header, or the signature's own tags — fails")
    func tamperingFails() throws {
        let signed = try SMTPEmail.bytes(for: Self.email(text: "Your refund of 10 dollars was approved."))
        let text = String(decoding: signed, as: UTF8.self)
        let bodyStart = try #require(text.range(of: "\r\n\r\n")).upperBound.utf16Offset(in: text)
        var body = signed
        // A base64 body character in the middle of the text part: one byte, still valid base64 shape.
        let target = bodyStart + (signed.count - bodyStart) / 2
        body[target] = body[target] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        var subject = signed
        let subjectAt = try #require(text.range(of: "Subject: Acme")).upperBound.utf16Offset(in: text) - 1
        subject[subjectAt] = UInt8(ascii: "X")
        var timestamp = signed
        let tAt = try #require(text.range(of: "t=")).upperBound.utf16Offset(in: text)
        timestamp[tAt] = timestamp[tAt] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
        let verdicts = try DKIMVerifier.run(["intact": signed, "body": body, "subject": subject, "timestamp": timestamp], key: Self.key)
        #expect(verdicts["intact"] == "pass")
        for name in ["body", "subject", "timestamp"] {
            #expect(verdicts[name]?.hasPrefix("fail") == true, "\(name): \(verdicts[name] ?? "no verdict")")
        }
    }

    @Test("a raw message: trailing spaces, blank lines at the end, a body without a final CRLF; Reply-To and List-Unsubscribe signed")
    func rawMessages() throws {
        let signer = DKIMSigner(key: Self.key)
        let head = "From: Acme <help@acme.example>\r\nTo: kim@example.com\r\nSubject:  spaced   out \t subject\r\n"
            + "Date: Sun, 29 Nov 2026 12:00:00 +0000\r\nMessage-ID: <raw-1@acme.example>\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: text/plain; charset=UTF-8\r\nReply-To: <chat-1@reply.followup.example>\r\n"
            + "List-Unsubscribe: <https://acme.example/unsubscribe?c=1>,\r\n <mailto:unsubscribe@acme.example>\r\n\r\n"
        let bodies = [
            "no_crlf": "first line  \r\nlast line without a break",
            "trailing_blank_lines": "text\t \r\n\r\n\r\n",
            "empty": "",
            "whitespace_runs": "a  b\t\tc   \r\n  indented\r\n",
        ]
        var files: [String: [UInt8]] = [:]
        for (name, body) in bodies {
            files[name] = try signer.sign(Array((head + body).utf8))
        }
        let header = String(decoding: try #require(files["no_crlf"]), as: UTF8.self).components(separatedBy: "\r\nFrom:")[0]
        let unfolded = header.filter { $0 != "\r\n" && $0 != "\t" && $0 != " " }
        let signedNames = Set(unfolded.components(separatedBy: ";h=")[1].components(separatedBy: ";")[0].split(separator: ":").map(String.init))
        let wanted: Set = ["from", "to", "subject", "date", "message-id", "mime-version", "content-type", "reply-to", "list-unsubscribe"]
        #expect(wanted.isSubset(of: signedNames), "h= is \(signedNames.sorted())")
        #expect(header.contains("a=rsa-sha256") && header.contains("c=relaxed/relaxed") && header.contains("d=acme.example")
                && header.contains("s=followup1"))
        let verdicts = try DKIMVerifier.run(files, key: Self.key)
        for name in bodies.keys {
            #expect(verdicts[name] == "pass", "\(name): \(verdicts[name] ?? "no verdict")")
        }
    }

    @Test("the bytes the SMTP server received verify: the signature covers exactly what was handed to SMTP")
    func overSMTP() async throws {
        let server = try LoopbackSMTPServer()
        defer { server.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }
        let adapter = SMTPEmail(client: client, server: SMTPServer(url: server.url, startTLS: .never, timeout: .seconds(5)))
        // A line starting with a dot is dot-stuffed on the wire and must arrive unchanged.
        _ = try await adapter.send(Self.email(text: ".starts with a dot\n안녕하세요", html: "<p>.</p>"))
        let mail = try #require(server.messages.first)
        let verdicts = try DKIMVerifier.run(["received": mail.data], key: Self.key)
        #expect(verdicts["received"] == "pass", "\(verdicts["received"] ?? "no verdict")")
        #expect(mail.text.hasPrefix("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.example;"))
    }

    @Test("an email without a key is not signed; the key never shows in descriptions or errors")
    func unsignedAndRedacted() throws {
        var email = Self.email()
        email.dkim = nil
        let bytes = try SMTPEmail.bytes(for: email)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("DKIM-Signature"))
        let secrets = SecretsKey.random()
        let sealed = try Self.key.sealed(with: secrets)
        let opened = try DKIMPrivateKey.open(sealed, domain: "acme.example", selector: "followup1", with: secrets)
        #expect(try opened.publicKeyBase64() == Self.key.publicKeyBase64())
        // Bound to its domain and selector, and to the secrets key.
        #expect(throws: SecretsKeyError.self) { try DKIMPrivateKey.open(sealed, domain: "acme.example", selector: "followup2", with: secrets) }
        let wrong = SecretsKey.random()
        let error = #expect(throws: SecretsKeyError.self) { try DKIMPrivateKey.open(sealed, domain: "acme.example", selector: "followup1", with: wrong) }
        #expect("\(Self.key)" == "DKIMPrivateKey(followup1._domainkey.acme.example, redacted)")
        var dumped = ""
        dump(Self.key, to: &dumped)
        #expect(!dumped.contains(Self.key.der.base64EncodedString().prefix(32)) && dumped.contains("followup1"))
        #expect("\(secrets)" == "SecretsKey(redacted)")
        #expect(error.map { "\($0)" }?.contains(secrets.base64) == false)
        // Malformed secrets keys: clear errors that do not echo the value.
        let short = Data(repeating: 7, count: 16).base64EncodedString()
        let tooShort = #expect(throws: SecretsKeyError.self) { try SecretsKey(base64: short) }
        #expect(tooShort?.description.contains("16 bytes") == true && tooShort?.description.contains(short) == false)
        #expect(throws: SecretsKeyError.self) { try SecretsKey(base64: "not base64 at all!") }
        #expect(try SecretsKey.from(environment: [:]) == nil)
    }
}

/// dkimpy's verdicts, fed the record the product publishes for `key`.
enum DKIMVerifier {
    static func run(_ messages: [String: [UInt8]], key: DKIMPrivateKey) throws -> [String: String] {
        try DKIMCheck.verdicts(messages, recordName: "\(key.selector)._domainkey.\(key.domain)",
                               recordValue: "v=DKIM1; k=rsa; p=\(try key.publicKeyBase64())")
    }
}
