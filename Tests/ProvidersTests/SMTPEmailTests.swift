import Fakes
import Foundation
import Outbound
import Providers
import Testing

@Suite("SMTP email against LoopbackSMTPServer")
struct SMTPEmailTests {
    let client = OutboundClient()

    func email(to: String = "customer@example.com") -> EmailMessage {
        EmailMessage(fromName: "Acme Support", fromAddress: "support@acme.example", to: to, toName: "김민지",
                     replyTo: "reply+chat-42@acme.example", subject: "New reply from Acme",
                     text: "Hello!\nYou have 2 new messages.", html: "<p>Hello!</p><p>You have 2 new messages.</p>",
                     messageID: "<followup-42@acme.example>")
    }

    @Test("the mail is submitted with its Message-ID, Reply-To, both bodies and the envelope")
    func submits() async throws {
        let server = try LoopbackSMTPServer(requireAuth: (user: "smtp-user", password: "smtp-pass"))
        defer { server.stop() }
        let adapter = SMTPEmail(client: client, server: SMTPServer(
            url: server.url, username: "smtp-user", password: "smtp-pass", startTLS: .never, timeout: .seconds(5)))

        let id = try await adapter.send(email())
        #expect(id == "<followup-42@acme.example>")
        let mail = try #require(server.messages.first)
        #expect(mail.envelopeFrom == "support@acme.example")
        #expect(mail.recipients == ["customer@example.com"])
        #expect(mail.authenticatedUser == "smtp-user")
        let parsed = mail.parsed
        #expect(parsed.header("Message-ID") == "<followup-42@acme.example>")
        #expect(parsed.header("Reply-To") == "<reply+chat-42@acme.example>")
        #expect(parsed.decodedHeader("From") == "\"Acme Support\" <support@acme.example>")
        #expect(parsed.decodedHeader("To")?.contains("customer@example.com") == true)
        #expect(parsed.decodedHeader("Subject") == "New reply from Acme")
        #expect(parsed.textBody == "Hello!\r\nYou have 2 new messages.")
        #expect(parsed.htmlBody == "<p>Hello!</p><p>You have 2 new messages.</p>")
    }

    @Test("an address the envelope and the To: header would read differently is refused before SMTP, and nothing is sent",
          arguments: ["victim@example.com>, <attacker@evil.example", "victim@example.com\r\nRCPT TO:<attacker@evil.example>",
                      "victim @example.com", "no-at-sign", "two@at@example.com", "\"quoted\"@example.com", "x@nodot"])
    func recipientValidated(address: String) async throws {
        let server = try LoopbackSMTPServer()
        defer { server.stop() }
        let adapter = SMTPEmail(client: client, server: SMTPServer(url: server.url, startTLS: .never, timeout: .seconds(5)))
        let error = try await #require(throws: ProviderError.self) { try await adapter.send(email(to: address)) }
        #expect(error.reason == .invalidRecipient)
        #expect(!error.isRetryable)
        #expect(server.messages.isEmpty)
    }

    @Test("a recipient refused with 550 is a final .invalidRecipient")
    func rejectedRecipient() async throws {
        let server = try LoopbackSMTPServer(rejectRecipients: ["gone@example.com"])
        defer { server.stop() }
        let adapter = SMTPEmail(client: client, server: SMTPServer(url: server.url, startTLS: .never, timeout: .seconds(5)))
        let error = await #expect(throws: ProviderError.self) { try await adapter.send(email(to: "gone@example.com")) }
        #expect(error?.reason == .invalidRecipient)
        #expect(error?.isRetryable == false)
        #expect(error?.providerCode == "550")
        #expect(error.map { "\($0)" }?.contains("gone@example.com") == false)
        #expect(server.messages.isEmpty)
    }

    @Test("wrong credentials are a final .misconfigured")
    func badCredentials() async throws {
        let server = try LoopbackSMTPServer(requireAuth: (user: "smtp-user", password: "smtp-pass"))
        defer { server.stop() }
        let adapter = SMTPEmail(client: client, server: SMTPServer(
            url: server.url, username: "smtp-user", password: "nope", startTLS: .never, timeout: .seconds(5)))
        let error = await #expect(throws: ProviderError.self) { try await adapter.send(email()) }
        #expect(error?.reason == .misconfigured)
        #expect(error?.isRetryable == false)
    }

    @Test("a server that is not there is retryable")
    func refused() async throws {
        let server = try LoopbackSMTPServer()
        let url = server.url
        server.stop()
        let adapter = SMTPEmail(client: client, server: SMTPServer(url: url, startTLS: .never, timeout: .seconds(5)))
        let error = await #expect(throws: ProviderError.self) { try await adapter.send(email()) }
        #expect(error?.isRetryable == true)
        #expect(error?.reason == .unavailable)
    }

    @Test("a server that never greets times out as a retryable .timeout")
    func timeout() async throws {
        // An HTTP fake never sends the SMTP greeting: the submission runs out of time.
        let silent = try LoopbackHTTPServer { _ in .text(200, "") }
        defer { silent.stop() }
        let adapter = SMTPEmail(client: client, server: SMTPServer(
            url: "smtp://127.0.0.1:\(silent.port)", startTLS: .never, timeout: .milliseconds(300)))
        let error = await #expect(throws: ProviderError.self) { try await adapter.send(email()) }
        #expect(error?.reason == .timeout)
        #expect(error?.isRetryable == true)
    }

    @Test("SMTP reply codes: 4xx retryable, 550 invalid recipient, 535 misconfigured, 554 rejected")
    func replyCodes() {
        #expect(ProviderError.smtp(replyCode: 451).isRetryable)
        #expect(ProviderError.smtp(replyCode: 421).isRetryable)
        #expect(ProviderError.smtp(replyCode: nil).isRetryable)
        #expect(ProviderError.smtp(replyCode: 550).reason == .invalidRecipient)
        #expect(ProviderError.smtp(replyCode: 553).reason == .invalidRecipient)
        #expect(ProviderError.smtp(replyCode: 535).reason == .misconfigured)
        #expect(ProviderError.smtp(replyCode: 554).reason == .rejected)
        #expect(!ProviderError.smtp(replyCode: 554).isRetryable)
    }
}
