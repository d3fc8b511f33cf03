import Fakes
import Foundation
import Outbound
import Testing

@Suite("OutboundClient SMTP")
struct SMTPSendTests {
    private func welcome(to recipient: String = "customer@example.org") -> MIMEMessage {
        MIMEMessage(
            from: MailAddress(name: "Acme 고객지원", address: "support@acme.example"),
            to: [MailAddress(name: "김민수", address: recipient)],
            replyTo: MailAddress(address: "reply+chat-42@acme.example"),
            subject: "새 메시지가 도착했어요 🎉",
            messageID: MIMEMessage.makeMessageID(domain: "acme.example"),
            textBody: "안녕하세요!\n답장을 기다리고 있어요.\n.\n..a line starting with dots",
            htmlBody: "<p>안녕하세요! <b>답장</b>을 기다리고 있어요 🎉</p>")
    }

    @Test("a rendered UTF-8 HTML message arrives with its envelope and readable headers")
    func sendRendered() async throws {
        let smtp = try LoopbackSMTPServer()
        defer { smtp.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }
        let message = welcome()

        try await client.sendMail(
            MailSubmission(envelopeFrom: "bounces@acme.example", recipients: ["customer@example.org"], message: message.render()),
            via: SMTPServer(url: smtp.url, startTLS: .never, timeout: .seconds(10)))

        let received = await smtp.waitForMessages(count: 1, timeout: .seconds(5))
        let mail = try #require(received.first)
        #expect(mail.envelopeFrom == "bounces@acme.example")
        #expect(mail.recipients == ["customer@example.org"])
        #expect(mail.authenticatedUser == nil)
        #expect(mail.data == message.render())

        let parsed = mail.parsed
        #expect(parsed.decodedHeader("Subject") == "새 메시지가 도착했어요 🎉")
        #expect(parsed.decodedHeader("From") == "Acme 고객지원 <support@acme.example>")
        #expect(parsed.decodedHeader("To") == "김민수 <customer@example.org>")
        #expect(parsed.header("Reply-To") == "<reply+chat-42@acme.example>")
        #expect(parsed.header("Message-ID") == message.messageID)
        #expect(parsed.header("MIME-Version") == "1.0")
        #expect(parsed.parts.map(\.contentType) == ["text/plain", "text/html"])
        #expect(parsed.textBody == "안녕하세요!\r\n답장을 기다리고 있어요.\r\n.\r\n..a line starting with dots")
        #expect(parsed.htmlBody == "<p>안녕하세요! <b>답장</b>을 기다리고 있어요 🎉</p>")
    }

    @Test("lines starting with a dot survive curl's dot-stuffing exactly once")
    func dotStuffing() async throws {
        let smtp = try LoopbackSMTPServer()
        defer { smtp.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }
        let raw = Array("Subject: dots\r\n\r\n.\r\n..two\r\n.three\r\nend\r\n".utf8)

        try await client.sendMail(
            MailSubmission(envelopeFrom: "a@acme.example", recipients: ["b@example.org"], message: raw),
            via: SMTPServer(url: smtp.url, startTLS: .never))

        let mail = try #require(await smtp.waitForMessages(count: 1, timeout: .seconds(5)).first)
        #expect(mail.data == raw)
    }

    @Test("AUTH with the right password submits; the wrong one is .smtpRejected")
    func authentication() async throws {
        let smtp = try LoopbackSMTPServer(requireAuth: (user: "mailer", password: "s3cret!"))
        defer { smtp.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }
        let submission = MailSubmission(
            envelopeFrom: "support@acme.example", recipients: ["customer@example.org"], message: welcome().render())

        try await client.sendMail(submission, via: SMTPServer(
            url: smtp.url, username: "mailer", password: "s3cret!", startTLS: .never, timeout: .seconds(10)))
        let mail = try #require(await smtp.waitForMessages(count: 1, timeout: .seconds(5)).first)
        #expect(mail.authenticatedUser == "mailer")

        let error = await #expect(throws: OutboundError.self) {
            try await client.sendMail(submission, via: SMTPServer(
                url: smtp.url, username: "mailer", password: "wrong", startTLS: .never, timeout: .seconds(10)))
        }
        #expect(error?.code == .smtpRejected)
        #expect(error?.responseCode == 535)
        #expect(error.map { !$0.description.contains("wrong") } == true, "the password must not leak into errors")

        let unauthenticated = await #expect(throws: OutboundError.self) {
            try await client.sendMail(submission, via: SMTPServer(url: smtp.url, startTLS: .never, timeout: .seconds(10)))
        }
        #expect(unauthenticated?.code == .smtpRejected)
        #expect(unauthenticated?.responseCode == 530)
        #expect(smtp.messages.count == 1)
    }

    @Test("a rejected recipient is .smtpRejected with the 550 reply")
    func rejectedRecipient() async throws {
        let smtp = try LoopbackSMTPServer(rejectRecipients: ["blocked@example.org"])
        defer { smtp.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }

        let error = await #expect(throws: OutboundError.self) {
            try await client.sendMail(
                MailSubmission(
                    envelopeFrom: "support@acme.example", recipients: ["Blocked@example.org"],
                    message: welcome(to: "blocked@example.org").render()),
                via: SMTPServer(url: smtp.url, startTLS: .never, timeout: .seconds(10)))
        }
        #expect(error?.code == .smtpRejected)
        #expect(error?.responseCode == 550)
        #expect(smtp.messages.isEmpty)
    }

    @Test("STARTTLS required against a server without it fails; .ifAvailable goes on in clear")
    func startTLSPolicy() async throws {
        let smtp = try LoopbackSMTPServer()
        defer { smtp.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }
        let submission = MailSubmission(envelopeFrom: "a@acme.example", recipients: ["b@example.org"], message: welcome().render())

        let error = await #expect(throws: OutboundError.self) {
            try await client.sendMail(submission, via: SMTPServer(url: smtp.url, startTLS: .required, timeout: .seconds(10)))
        }
        #expect(error?.code == .tls)

        try await client.sendMail(submission, via: SMTPServer(url: smtp.url, startTLS: .ifAvailable, timeout: .seconds(10)))
        #expect(await smtp.waitForMessages(count: 1, timeout: .seconds(5)).count == 1)
    }

    @Test("several messages in parallel all arrive")
    func parallelMail() async throws {
        let smtp = try LoopbackSMTPServer()
        defer { smtp.stop() }
        let client = OutboundClient()
        defer { client.shutdown() }
        let server = SMTPServer(url: smtp.url, startTLS: .never, timeout: .seconds(10))

        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask {
                    try await client.sendMail(
                        MailSubmission(envelopeFrom: "a@acme.example", recipients: ["c\(index)@example.org"], message: welcome().render()),
                        via: server)
                }
            }
            try await group.waitForAll()
        }
        let received = await smtp.waitForMessages(count: 20, timeout: .seconds(5))
        #expect(Set(received.flatMap(\.recipients)) == Set((0..<20).map { "c\($0)@example.org" }))
    }
}
