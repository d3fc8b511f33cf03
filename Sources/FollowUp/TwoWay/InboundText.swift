import Foundation
import Postgres

/// A text a customer sent to one of our numbers (Twilio's inbound message webhook).
///
/// - Opt-out keywords (`STOP`, `STOPALL`, `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`; the whole
///   message, any case, surrounding spaces and punctuation ignored, as carriers match them)
///   suppress texts to that number for the channel(s) that text from the number it was sent to.
/// - Opt-in keywords (`START`, `UNSTOP`, `YES`) lift that suppression.
/// - Anything else becomes a customer message (`INSERT INTO public.messages … sender 'customer'`) in
///   the chat the customer was last followed up about (else their latest support chat) of that
///   channel — which, by the existing rules, marks the answers before it as seen.
///
/// The channel is found by the number the text was sent to (`channels.sms_from`), or by the
/// Twilio Messaging Service (`channels.sms_messaging_service_sid`); channels without a sender
/// of their own share the product's default sender. All of it happens in one transaction, and
/// a retried webhook (same MessageSid) changes nothing.
public enum InboundText {
    public static let optOutKeywords: Set<String> = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
    public static let optInKeywords: Set<String> = ["START", "UNSTOP", "YES"]

    public struct Message: Sendable {
        /// Twilio's `MessageSid`: the idempotency key.
        public var messageSID: String
        public var from: String
        public var to: String
        public var messagingServiceSID: String?
        public var body: String
        /// Twilio's `OptOutType` (`STOP`, `START`, `HELP`), sent when its Advanced Opt-Out matched
        /// one of the account's keywords (which may be custom or localised): it wins over ours.
        public var optOutType: String?
        public init(messageSID: String, from: String, to: String, messagingServiceSID: String?, body: String,
                    optOutType: String? = nil) {
            self.messageSID = messageSID
            self.from = from
            self.to = to
            self.messagingServiceSID = messagingServiceSID
            self.body = body
            self.optOutType = optOutType
        }
    }

    public enum Outcome: Sendable, Equatable {
        /// Texts to this number are suppressed for these channels.
        case optedOut(channels: [Int64])
        /// The suppression was lifted for these channels.
        case optedIn(channels: [Int64])
        /// Landed as a customer message in this chat.
        case message(chatID: Int64)
        /// No channel texts from that number, or the sender is not a customer of one.
        case unknownSender
        /// This MessageSid was handled before.
        case duplicate
        /// No text (e.g. a picture only): nothing to add to the chat.
        case empty
        /// A keyword the provider handles itself (HELP).
        case ignoredKeyword
    }

    /// The keyword a message is, if it is one (upper-cased), else nil.
    public static func keyword(_ body: String) -> String? {
        let word = body.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters)).uppercased()
        return optOutKeywords.contains(word) || optInKeywords.contains(word) ? word : nil
    }

    /// Handles one inbound text in one transaction.
    /// - Parameter defaultSender: the product's SMS sender (`FollowUpSettings.defaultSMSFrom`),
    ///   shared by channels without `sms_from`.
    public static func handle(_ message: Message, defaultSender: String, on pool: ConnectionPool) async throws -> Outcome {
        let body = message.body.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await pool.withTransaction { tx -> Outcome in
            // The channels texting from that number whose customer this is.
            let matches = try await tx.query("""
                SELECT ch.id, cu.id FROM public.channels ch
                JOIN public.customers cu ON cu.channel_id = ch.id AND cu.phone = \(message.from)
                WHERE ch.sms_from = \(message.to)
                   OR (\(message.messagingServiceSID)::text IS NOT NULL AND ch.sms_messaging_service_sid = \(message.messagingServiceSID))
                   OR (ch.sms_from IS NULL AND \(message.to) = \(defaultSender))
                ORDER BY ch.id
                """).map { (channel: try $0.decode(Int64.self, at: 0), customer: try $0.decode(Int64.self, at: 1)) }
            let keyword: String? = switch message.optOutType?.uppercased() {
            case "STOP": "STOP"
            case "START": "START"
            case "HELP": "HELP"
            default: keyword(body)
            }
            if keyword == "HELP" { return .ignoredKeyword }  // Twilio answers HELP itself
            let outcomeName = keyword.map { optOutKeywords.contains($0) ? "opt_out" : "opt_in" } ?? (matches.isEmpty ? "ignored" : "message")
            let first = try await tx.first("""
                INSERT INTO public.inbound_events (source, event_id, channel_id, outcome)
                VALUES ('sms', \(message.messageSID), \(matches.first?.channel), \(outcomeName))
                ON CONFLICT (source, event_id) DO NOTHING RETURNING 1
                """) != nil
            guard first else { return .duplicate }
            guard !matches.isEmpty else { return .unknownSender }
            let channels = Array(Set(matches.map(\.channel))).sorted()
            if let keyword, optOutKeywords.contains(keyword) {
                for channel in channels {
                    try await Suppressions.suppress(channelID: channel, .phone, message.from,
                                                    reason: "replied \(keyword) by SMS", on: tx)
                }
                return .optedOut(channels: channels)
            }
            if keyword != nil {
                for channel in channels { try await Suppressions.lift(channelID: channel, .phone, message.from, on: tx) }
                return .optedIn(channels: channels)
            }
            // The chat this customer was last followed up about, else their latest chat.
            let ids = matches.map(\.customer)
            let chat = try await tx.first("""
                SELECT c.id FROM public.chats c
                LEFT JOIN LATERAL (SELECT f.created_at FROM public.follow_ups f WHERE f.chat_id = c.id
                                   ORDER BY f.id DESC LIMIT 1) f ON true
                WHERE c.customer_id = ANY(\(ids)::bigint[]) AND c.kind = 'support'
                ORDER BY f.created_at DESC NULLS LAST, c.created_at DESC, c.id DESC LIMIT 1
                """).map { try $0.decode(Int64.self, at: 0) }
            guard !body.isEmpty else { return .empty }
            guard let chat else { return .unknownSender }
            try await tx.execute("INSERT INTO public.messages (chat_id, sender, body) VALUES (\(chat), 'customer', \(String(body.prefix(20_000))))")
            return .message(chatID: chat)
        }
    }
}
