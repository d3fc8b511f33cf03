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
    /// `recipient`: the validated `email.to` (`send` passes the one it also gives the envelope).
    public static func mime(for email: EmailMessage, to recipient: MailAddress? = nil, date: Date = Date()) -> MIMEMessage {
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
            to: [recipient ?? MailAddress(name: email.toName, address: email.to)],
            replyTo: email.replyTo.map { MailAddress(address: $0) },
            subject: email.subject,
            messageID: email.messageID,
            date: date,
            textBody: email.text,
            htmlBody: email.html.isEmpty ? nil : email.html,
            extraHeaders: headers)
    }

    /// The exact bytes `send` hands to SMTP: the rendered MIME message, DKIM-signed in front
    /// when the email carries a key.
    public static func bytes(for email: EmailMessage, to recipient: MailAddress? = nil, date: Date = Date()) throws -> [UInt8] {
        let rendered = mime(for: email, to: recipient, date: date).render()
        guard let key = email.dkim else { return rendered }
        do {
            return try DKIMSigner(key: key).sign(rendered, time: date)
        } catch {
            // The key's bytes are never part of the error.
            throw ProviderError(.final, ProviderError.Reason("DKIM signing failed for \(key.selector)._domainkey.\(key.domain)"))
        }
    }

    public func send(_ email: EmailMessage) async throws -> String {
        // One validated address for the envelope (RCPT TO) and the To: header alike.
        guard let recipient = MailAddress.validated(email.to, name: email.toName) else {
            throw ProviderError(.final, .invalidRecipient)
        }
        let submission = MailSubmission(envelopeFrom: email.returnPath ?? email.fromAddress, recipients: [recipient.address],
                                        message: try Self.bytes(for: email, to: recipient))
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
