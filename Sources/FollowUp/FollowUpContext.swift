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
        /// nil: the product's `FollowUpSettings.chatURLBase`.
        var linkBaseURL: String?

        var hasMessenger: Bool { messengerSenderKey != nil && messengerTemplateCode != nil }
    }

    struct Customer: Sendable {
        var id: Int64
        var name: String?
        var phone: String?
        var email: String?
        var country: String?
        var language: String?
        /// What the customer agreed to receive (`customers.follow_up`): all, email_only, text_only, none.
        var followUp: String = "all"
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

    /// The route country, for pricing and SMS/LMS sizing: the phone number's own, from its E.164
    /// calling code (`CallingCodes`); the declared one (the customer's, else the channel's
    /// default) only for a number that has none.
    var country: String { CallingCodes.country(ofE164: customer.phone) ?? customer.country ?? channel.defaultCountry }

    /// The way back into the chat: under the channel's own link base, else the product's.
    func link(chatURLBase: String) -> String {
        let base = channel.linkBaseURL ?? chatURLBase
        return "\(base.hasSuffix("/") ? String(base.dropLast()) : base)/chats/\(chatID)"
    }

    var textTemplate: TextTemplate {
        TextTemplate(template: channel.textTemplate ?? TextTemplate.defaultTemplate,
                     subject: channel.textSubject ?? TextTemplate.defaultSubject)
    }

    /// The follow-up text, planned as SMS or LMS for the customer's country.
    func composeText(chatURLBase: String) -> XMSPlan {
        FollowUpText.compose(template: textTemplate, company: channel.name, customerName: customer.name,
                             messages: messages.map(\.body), link: link(chatURLBase: chatURLBase), country: country)
    }

    /// Loads a follow-up with its channel, customer and (unless `messages` is false) its
    /// messages. Nil: no such follow-up.
    static func load(followUpID: Int64, messages loadMessages: Bool = true, on db: some Queryable) async throws -> FollowUpContext? {
        guard let row = try await db.first("""
            SELECT \(raw: columns) FROM \(raw: tables) WHERE f.id = \(followUpID)
            """), var context = try decode(row, at: 0) else { return nil }
        if loadMessages { try await context.loadMessages(on: db) }
        return context
    }

    /// The columns `decode` reads, from `tables` (a follow-up `f` and what it joins).
    static let columns = """
        f.id, f.status, f.chat_id, f.offline_since, f.first_message_id, f.last_message_id,
        ch.id, ch.name, ch.phone_enabled, ch.email_enabled, ch.push_integrated,
        ch.messenger_sender_key, ch.messenger_template_code, ch.sms_from,
        ch.email_from_name, ch.email_from_address, ch.email_domain, ch.email_domain_verified,
        ch.default_country, extract(epoch FROM ch.push_ack_timeout)::float8,
        ch.text_template, ch.text_subject, ch.link_base_url,
        cu.id, cu.name, cu.phone, cu.email, cu.country, cu.language,
        EXISTS (SELECT 1 FROM public.activity a WHERE a.customer_id = f.customer_id AND a.at > f.offline_since
                  AND a.kind IN ('heartbeat', 'page_view', 'tab_visible')),
        EXISTS (SELECT 1 FROM public.messages m WHERE m.chat_id = f.chat_id AND m.sender = 'customer' AND m.id > f.last_message_id)
        OR EXISTS (SELECT 1 FROM public.chat_reads r WHERE r.chat_id = f.chat_id AND r.read_at >= last.created_at),
        cu.follow_up
        """
    static let tables = tables(followUps: "public.follow_ups f")

    /// `tables`, with the follow-up (`f`) read from `source`: e.g. a CTE that just inserted it.
    static func tables(followUps source: String) -> String {
        """
        \(source)
        JOIN public.channels ch ON ch.id = f.channel_id
        JOIN public.customers cu ON cu.id = f.customer_id
        LEFT JOIN public.messages last ON last.id = f.last_message_id
        """
    }

    /// The context in `row` from column `offset` on (`columns`), without its messages; nil when
    /// the follow-up's columns are NULL (an outer join found none).
    static func decode(_ row: Row, at offset: Int) throws -> FollowUpContext? {
        guard let id = try row.decode(Int64?.self, at: offset) else { return nil }
        let o = offset
        let channel = Channel(
            id: try row.decode(Int64.self, at: o + 6), name: try row.decode(String.self, at: o + 7),
            phoneEnabled: try row.decode(Bool.self, at: o + 8), emailEnabled: try row.decode(Bool.self, at: o + 9),
            pushIntegrated: try row.decode(Bool.self, at: o + 10),
            messengerSenderKey: try row.decode(String?.self, at: o + 11), messengerTemplateCode: try row.decode(String?.self, at: o + 12),
            smsFrom: try row.decode(String?.self, at: o + 13), emailFromName: try row.decode(String?.self, at: o + 14),
            emailFromAddress: try row.decode(String?.self, at: o + 15), emailDomain: try row.decode(String?.self, at: o + 16),
            emailDomainVerified: try row.decode(Bool.self, at: o + 17), defaultCountry: try row.decode(String.self, at: o + 18),
            pushAckTimeoutSeconds: try row.decode(Double.self, at: o + 19), textTemplate: try row.decode(String?.self, at: o + 20),
            textSubject: try row.decode(String?.self, at: o + 21), linkBaseURL: try row.decode(String?.self, at: o + 22))
        let customer = Customer(
            id: try row.decode(Int64.self, at: o + 23), name: try row.decode(String?.self, at: o + 24),
            phone: try row.decode(String?.self, at: o + 25), email: try row.decode(String?.self, at: o + 26),
            country: try row.decode(String?.self, at: o + 27), language: try row.decode(String?.self, at: o + 28),
            followUp: try row.decode(String.self, at: o + 31))
        let notWanted: String? = try row.decode(Bool.self, at: o + 29) ? "customer came back before it was sent"
            : try row.decode(Bool.self, at: o + 30) ? "customer read the chat before it was sent" : nil
        return FollowUpContext(followUpID: id, status: try row.decode(String.self, at: o + 1),
                               chatID: try row.decode(Int64.self, at: o + 2), offlineSince: try row.decode(Date.self, at: o + 3),
                               firstMessageID: try row.decode(Int64.self, at: o + 4), lastMessageID: try row.decode(Int64.self, at: o + 5),
                               channel: channel, customer: customer, messages: [], notWanted: notWanted)
    }

    /// Reads the answers it carries (manager and bot messages, first to last).
    mutating func loadMessages(on db: some Queryable) async throws {
        messages = try await db.query("""
            SELECT \(raw: Message.columns) FROM public.messages m
            WHERE m.chat_id = \(chatID) AND m.sender <> 'customer' AND m.id BETWEEN \(firstMessageID) AND \(lastMessageID)
            ORDER BY m.id
            """).map(Message.init(row:))
    }
}

extension FollowUpContext.Message {
    /// The columns of `messages m` a `Message` is read from, in `init(row:)`'s order.
    static let columns = "m.id, m.sender, m.body, m.created_at"

    init(row: Row) throws {
        self.init(id: try row.decode(Int64.self, at: 0), sender: try row.decode(String.self, at: 1),
                  body: try row.decode(String.self, at: 2), createdAt: try row.decode(Date.self, at: 3))
    }
}
