import Foundation
import Postgres

/// Everything about one follow-up that planning and sending need: the channel's settings, the
/// customer's contact data, and the unseen answers it carries.
struct FollowUpContext: Sendable {
    struct Channel: Sendable {
        var id: Int64
        var name: String
        var phoneEnabled: Bool
        var emailEnabled: Bool
        var pushIntegrated: Bool
        var messengerSenderKey: String?
        var messengerTemplateCode: String?
        var smsFrom: String?
        var emailFromName: String?
        var emailFromAddress: String?
        var emailDomain: String?
        var emailDomainVerified: Bool
        var defaultCountry: String
        var pushAckTimeoutSeconds: Double
        var textTemplate: String?
        var textSubject: String?
        var linkBaseURL: String

        var hasMessenger: Bool { messengerSenderKey != nil && messengerTemplateCode != nil }
    }

    struct Customer: Sendable {
        var id: Int64
        var name: String?
        var phone: String?
        var email: String?
        var country: String?
        var language: String?
    }

    struct Message: Sendable {
        var id: Int64
        var sender: String
        var body: String
        var createdAt: Date
    }

    var followUpID: Int64
    var status: String
    var chatID: Int64
    var offlineSince: Date
    var firstMessageID: Int64
    var lastMessageID: Int64
    var channel: Channel
    var customer: Customer
    var messages: [Message]
    /// Whether it is still wanted at the moment of loading: nil, or why not — the customer came
    /// back (a heartbeat, page view or visible tab after they went offline), or read the answers
    /// it carries (wrote in the chat after them, or a `chat_reads` row after the last of them).
    var notWanted: String?

    /// The customer's country for pricing and SMS/LMS: their own, else the channel's default.
    var country: String { customer.country ?? channel.defaultCountry }

    /// The way back into the chat.
    var link: String {
        let base = channel.linkBaseURL.hasSuffix("/") ? String(channel.linkBaseURL.dropLast()) : channel.linkBaseURL
        return "\(base)/chats/\(chatID)"
    }

    var textTemplate: TextTemplate {
        TextTemplate(template: channel.textTemplate ?? TextTemplate.defaultTemplate,
                     subject: channel.textSubject ?? TextTemplate.defaultSubject)
    }

    /// The follow-up text, planned as SMS or LMS for the customer's country.
    func composeText() -> XMSPlan {
        FollowUpText.compose(template: textTemplate, company: channel.name, customerName: customer.name,
                             messages: messages.map(\.body), link: link, country: country)
    }

    /// Loads a follow-up with its channel, customer and (unless `messages` is false) its
    /// messages. Nil: no such follow-up.
    static func load(followUpID: Int64, messages loadMessages: Bool = true, on db: some Queryable) async throws -> FollowUpContext? {
        guard let row = try await db.first("""
            SELECT f.id, f.status, f.chat_id, f.offline_since, f.first_message_id, f.last_message_id,
                   ch.id, ch.name, ch.phone_enabled, ch.email_enabled, ch.push_integrated,
                   ch.messenger_sender_key, ch.messenger_template_code, ch.sms_from,
                   ch.email_from_name, ch.email_from_address, ch.email_domain, ch.email_domain_verified,
                   ch.default_country, extract(epoch FROM ch.push_ack_timeout)::float8,
                   ch.text_template, ch.text_subject, ch.link_base_url,
                   cu.id, cu.name, cu.phone, cu.email, cu.country, cu.language,
                   EXISTS (SELECT 1 FROM activity a WHERE a.customer_id = f.customer_id AND a.at > f.offline_since
                             AND a.kind IN ('heartbeat', 'page_view', 'tab_visible')),
                   EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = f.chat_id AND m.sender = 'customer' AND m.id > f.last_message_id)
                   OR EXISTS (SELECT 1 FROM chat_reads r WHERE r.chat_id = f.chat_id AND r.read_at >= last.created_at)
            FROM follow_ups f
            JOIN channels ch ON ch.id = f.channel_id
            JOIN customers cu ON cu.id = f.customer_id
            LEFT JOIN messages last ON last.id = f.last_message_id
            WHERE f.id = \(followUpID)
            """) else { return nil }
        let channel = Channel(
            id: try row.decode(Int64.self, at: 6), name: try row.decode(String.self, at: 7),
            phoneEnabled: try row.decode(Bool.self, at: 8), emailEnabled: try row.decode(Bool.self, at: 9),
            pushIntegrated: try row.decode(Bool.self, at: 10),
            messengerSenderKey: try row.decode(String?.self, at: 11), messengerTemplateCode: try row.decode(String?.self, at: 12),
            smsFrom: try row.decode(String?.self, at: 13), emailFromName: try row.decode(String?.self, at: 14),
            emailFromAddress: try row.decode(String?.self, at: 15), emailDomain: try row.decode(String?.self, at: 16),
            emailDomainVerified: try row.decode(Bool.self, at: 17), defaultCountry: try row.decode(String.self, at: 18),
            pushAckTimeoutSeconds: try row.decode(Double.self, at: 19), textTemplate: try row.decode(String?.self, at: 20),
            textSubject: try row.decode(String?.self, at: 21), linkBaseURL: try row.decode(String.self, at: 22))
        let customer = Customer(
            id: try row.decode(Int64.self, at: 23), name: try row.decode(String?.self, at: 24),
            phone: try row.decode(String?.self, at: 25), email: try row.decode(String?.self, at: 26),
            country: try row.decode(String?.self, at: 27), language: try row.decode(String?.self, at: 28))
        let chatID = try row.decode(Int64.self, at: 2)
        let first = try row.decode(Int64.self, at: 4)
        let last = try row.decode(Int64.self, at: 5)
        let messages = !loadMessages ? [] : try await db.query("""
            SELECT id, sender, body, created_at FROM messages
            WHERE chat_id = \(chatID) AND sender <> 'customer' AND id BETWEEN \(first) AND \(last)
            ORDER BY id
            """).map {
                Message(id: try $0.decode(Int64.self, at: 0), sender: try $0.decode(String.self, at: 1),
                        body: try $0.decode(String.self, at: 2), createdAt: try $0.decode(Date.self, at: 3))
            }
        return FollowUpContext(followUpID: try row.decode(Int64.self, at: 0), status: try row.decode(String.self, at: 1),
                               chatID: chatID, offlineSince: try row.decode(Date.self, at: 3),
                               firstMessageID: first, lastMessageID: last,
                               channel: channel, customer: customer, messages: messages,
                               notWanted: try row.decode(Bool.self, at: 29) ? "customer came back before it was sent"
                                   : try row.decode(Bool.self, at: 30) ? "customer read the chat before it was sent" : nil)
    }
}
