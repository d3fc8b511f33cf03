import Crypto
import Foundation
import Postgres

/// One inbound email, from either entrance — `followup mail-in` (an MTA's pipe) or
/// `POST /webhooks/email/inbound` (a provider forwarding raw mail) — handled by one code path:
///
/// 1. the recipient must be one of our signed addresses at the reply domain (`ReplyTokens`):
///    `r-<chat>-<mac>` (a reply), `u-<token>` (unsubscribe by mail), `b-<delivery>-<mac>` (a
///    bounce); anything else, a forged mac, or a chat that does not exist is refused as an
///    unknown recipient and nothing is written;
/// 2. an RFC 3464 delivery status notification marks its email delivery `bounced` and, for a
///    permanent failure (5.x.x), suppresses the address for that channel;
/// 3. an auto-reply (`Auto-Submitted` other than `no`, `X-Autoreply`, `Precedence: auto_reply`,
///    an out-of-office subject) is accepted and recorded, but is not a customer message;
/// 4. otherwise the reply's new text (quoted history and signature stripped, any charset) becomes
///    `INSERT INTO public.messages (chat_id, sender, body) VALUES (…, 'customer', …)`.
///
/// All writes happen in one transaction, keyed by the mail's Message-ID (`inbound_events`), so
/// a mail delivered twice changes nothing the second time.
public enum InboundMail {
    /// What was done with an accepted mail.
    public enum Outcome: Sendable, Equatable {
        case message(chatID: Int64)
        /// Recognised as an automatic reply: recorded, not a customer message.
        case autoReply
        /// A delivery status notification; `hard`: the address is now suppressed.
        case bounce(deliveryID: Int64?, hard: Bool)
        case unsubscribed(channelID: Int64)
        /// A reply with no new text (only the quote, or only a signature).
        case empty
        /// Handled before (same Message-ID).
        case duplicate
    }

    /// Why a mail was refused. `exitCode` is the `sysexits.h` status `mail-in` exits with.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            /// EX_NOUSER (67): not one of our addresses, a forged token, an unknown chat.
            case unknownRecipient
            /// EX_DATAERR (65): not a mail message.
            case badMessage
            /// EX_TEMPFAIL (75): the database could not be reached; the MTA retries later.
            case tryLater
        }
        public var kind: Kind
        /// Words for the log and the MTA's bounce; never an address or a body.
        public var reason: String
        public init(_ kind: Kind, _ reason: String) {
            self.kind = kind
            self.reason = reason
        }
        public var exitCode: Int32 {
            switch kind {
            case .unknownRecipient: 67
            case .badMessage: 65
            case .tryLater: 75
            }
        }
        public var description: String { reason }
    }

    /// The largest message accepted (replies are small; attachments are not kept).
    public static let maxBytes = 10 * 1024 * 1024

    /// Handles one raw RFC 5322 message. Throws ``Refusal`` only.
    /// - Parameter recipient: the envelope recipient when the MTA passes it (Postfix
    ///   `${recipient}`); nil: taken from Delivered-To / X-Original-To / To / Cc.
    public static func handle(_ raw: [UInt8], recipient: String?, tokens: ReplyTokens,
                              on pool: ConnectionPool) async throws -> Outcome {
        guard !raw.isEmpty else { throw Refusal(.badMessage, "empty message") }
        guard raw.count <= maxBytes else { throw Refusal(.badMessage, "message larger than \(maxBytes) bytes") }
        let message: MailMessage
        do {
            message = try MailMessage(raw)
        } catch {
            throw Refusal(.badMessage, "not an RFC 5322 message (no header block)")
        }
        let target = try route(message, recipient: recipient, tokens: tokens)
        let eventID = message.header("Message-ID").map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : String($0.prefix(900)) }
            ?? "sha256:" + SHA256.hash(data: Data(raw)).map { String(format: "%02x", $0) }.joined()
        do {
            return try await pool.withTransaction { tx -> Outcome in
                try await handle(message, target: target, eventID: eventID, on: tx)
            }
        } catch let refusal as Refusal {
            throw refusal
        } catch {
            throw Refusal(.tryLater, "database unavailable: \(type(of: error))")
        }
    }

    // MARK: Steps

    enum Target: Equatable {
        case reply(chatID: Int64)
        case unsubscribe(deliveryID: Int64)
        case bounce(deliveryID: Int64)
    }

    /// Which of our signed addresses the mail is for.
    static func route(_ message: MailMessage, recipient: String?, tokens: ReplyTokens) throws -> Target {
        var candidates: [String] = []
        if let recipient {
            let found = MailMessage.addresses(recipient)
            candidates = found.isEmpty ? [recipient.lowercased()] : found
        } else {
            for name in ["Delivered-To", "X-Original-To", "To", "Cc"] {
                candidates += message.headers(name).flatMap(MailMessage.addresses)
            }
        }
        for address in candidates {
            if let chat = tokens.chatID(replyAddress: address) { return .reply(chatID: chat) }
            if let delivery = tokens.deliveryID(unsubscribeAddress: address) { return .unsubscribe(deliveryID: delivery) }
            if let delivery = tokens.deliveryID(bounceAddress: address) { return .bounce(deliveryID: delivery) }
        }
        let ours = candidates.contains { tokens.isOurs($0) }
        throw Refusal(.unknownRecipient, ours ? "forged or unknown reply address" : "not addressed to the reply domain")
    }

    static func handle(_ message: MailMessage, target: Target, eventID: String, on tx: Transaction) async throws -> Outcome {
        // A DSN is a bounce whatever address it came to.
        if let report = DeliveryStatusNotification(message) {
            var deliveryID: Int64?
            if case .bounce(let id) = target { deliveryID = id }
            deliveryID = deliveryID ?? report.originalMessageID.flatMap(EmailContent.deliveryID(messageID:))
            guard try await record(eventID, outcome: "bounce", on: tx) else { return .duplicate }
            return try await bounce(report, deliveryID: deliveryID, on: tx)
        }
        switch target {
        case .bounce:
            // Mail to a bounce address that is not a DSN: an auto-reply to the envelope sender.
            guard try await record(eventID, outcome: "auto_reply", on: tx) else { return .duplicate }
            return .autoReply
        case .unsubscribe(let deliveryID):
            guard let channel = try await Unsubscribe.apply(deliveryID: deliveryID, how: "unsubscribed by email", on: tx) else {
                throw Refusal(.unknownRecipient, "unsubscribe address for an unknown delivery")
            }
            _ = try await record(eventID, outcome: "opt_out", channelID: channel, on: tx)
            return .unsubscribed(channelID: channel)
        case .reply(let chatID):
            guard let channel = try await tx.first("SELECT channel_id FROM public.chats WHERE id = \(chatID)")
                .map({ try $0.decode(Int64.self, at: 0) }) else {
                throw Refusal(.unknownRecipient, "reply address of a chat that does not exist")
            }
            if isAutoReply(message) {
                guard try await record(eventID, outcome: "auto_reply", channelID: channel, on: tx) else { return .duplicate }
                return .autoReply
            }
            let text = ReplyText.extract(plain: message.text("text/plain"), html: message.text("text/html"))
            guard try await record(eventID, outcome: text.isEmpty ? "ignored" : "message", channelID: channel, on: tx) else {
                return .duplicate
            }
            guard !text.isEmpty else { return .empty }
            try await tx.execute("""
                INSERT INTO public.messages (chat_id, sender, body) VALUES (\(chatID), 'customer', \(String(text.prefix(20_000))))
                """)
            return .message(chatID: chatID)
        }
    }

    /// Marks the delivery bounced; a permanent failure suppresses the address for its channel.
    static func bounce(_ report: DeliveryStatusNotification, deliveryID: Int64?, on tx: Transaction) async throws -> Outcome {
        let failed = report.recipients.filter { $0.action == "failed" }
        guard let deliveryID, let worst = failed.first(where: \.isHardBounce) ?? failed.first else {
            return .bounce(deliveryID: deliveryID, hard: false)
        }
        let hard = worst.isHardBounce
        _ = try await DeliveryReceipts.apply(
            deliveryID: deliveryID, providerMessageID: nil, outcome: .bounced,
            reason: hard ? "bounced: the address does not accept mail (\(worst.status))" : "bounced for now (\(worst.status))",
            providerCode: worst.status.isEmpty ? nil : worst.status, routes: ["email"], on: tx)
        if hard {
            try await tx.execute("""
                INSERT INTO public.suppressions (channel_id, address_kind, address, reason, provider_code)
                SELECT channel_id, 'email', lower(recipient), 'hard bounce', \(worst.status)
                FROM public.deliveries WHERE id = \(deliveryID) AND route = 'email' AND recipient IS NOT NULL
                ON CONFLICT (channel_id, address_kind, address) DO NOTHING
                """)
        }
        return .bounce(deliveryID: deliveryID, hard: hard)
    }

    /// RFC 3834 and the de-facto headers and subjects of vacation responders.
    static func isAutoReply(_ message: MailMessage) -> Bool {
        if let auto = message.header("Auto-Submitted")?.lowercased(), !auto.hasPrefix("no") { return true }
        if message.header("X-Autoreply") != nil || message.header("X-Autorespond") != nil { return true }
        if let precedence = message.header("Precedence")?.lowercased(),
           ["auto_reply", "bulk", "junk"].contains(precedence.trimmingCharacters(in: .whitespaces)) { return true }
        if let returnPath = message.header("Return-Path"), returnPath.trimmingCharacters(in: .whitespaces) == "<>" { return true }
        let subject = (message.decodedHeader("Subject") ?? "").lowercased()
        let outOfOffice = ["out of office", "automatic reply", "auto reply", "autoreply", "auto:", "abwesenheit",
                           "자동 회신", "부재중", "부재 중"]
        return outOfOffice.contains { subject.hasPrefix($0) || subject.contains($0 + ":") }
    }

    /// Records the event; false when it was recorded before (a duplicate delivery of the mail).
    private static func record(_ eventID: String, outcome: String, channelID: Int64? = nil, on tx: Transaction) async throws -> Bool {
        try await tx.first("""
            INSERT INTO public.inbound_events (source, event_id, channel_id, outcome)
            VALUES ('email', \(eventID), \(channelID), \(outcome))
            ON CONFLICT (source, event_id) DO NOTHING RETURNING 1
            """) != nil
    }
}
