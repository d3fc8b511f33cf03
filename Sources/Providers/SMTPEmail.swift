import Foundation
import Outbound

/// Email over SMTP: renders an `EmailMessage` as MIME (text + HTML alternative, the message's
/// own Message-ID, Reply-To) and submits it with `OutboundClient.sendMail` to one server.
///
/// The Message-ID is the idempotency handle: a resend after a crash carries the same id, so the
/// recipient's mail system (and our logs) can recognise it as the same mail.
///
/// Failures: a 5xx refusal of the recipient (550/551/553) → final `.invalidRecipient`; 530/535
/// (credentials) → final `.misconfigured`; other 5xx → final `.rejected`; 4xx (greylisting,
/// mailbox busy), timeouts and connection failures → retryable.
public struct SMTPEmail: EmailProvider {
    public var client: OutboundClient
    public var server: SMTPServer

    public init(client: OutboundClient, server: SMTPServer) {
        self.client = client
        self.server = server
    }

    /// The MIME message `send` submits.
    public static func mime(for email: EmailMessage, date: Date = Date()) -> MIMEMessage {
        var headers: [HTTPHeader] = []
        if let unsubscribe = email.listUnsubscribe {
            headers.append(HTTPHeader("List-Unsubscribe", unsubscribe))
            // RFC 8058 one-click: only with an HTTPS URI to POST to.
            if unsubscribe.contains("<https://") {
                headers.append(HTTPHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
            }
        }
        return MIMEMessage(
            from: MailAddress(name: email.fromName, address: email.fromAddress),
            to: [MailAddress(name: email.toName, address: email.to)],
            replyTo: email.replyTo.map { MailAddress(address: $0) },
            subject: email.subject,
            messageID: email.messageID,
            date: date,
            textBody: email.text,
            htmlBody: email.html.isEmpty ? nil : email.html,
            extraHeaders: headers)
    }

    public func send(_ email: EmailMessage) async throws -> String {
        let mime = Self.mime(for: email)
        let submission = MailSubmission(envelopeFrom: email.returnPath ?? email.fromAddress, recipients: [email.to], message: mime.render())
        do {
            try await client.sendMail(submission, via: server)
        } catch let error as OutboundError {
            if error.code == .cancelled { throw CancellationError() }
            throw ProviderError.transport(error)
        }
        let id = email.messageID.trimmingCharacters(in: CharacterSet(charactersIn: "<> "))
        return "<\(id)>"
    }
}
