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
    var status: FollowUpStatus
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
            SELECT \(columns) FROM \(tables) WHERE f.id = \(followUpID)
            """), var context = try decode(row) else { return nil }
        if loadMessages { try await context.loadMessages(on: db) }
        return context
    }

    /// The columns `decode` reads, from `tables` (a follow-up `f` and what it joins). Each is
    /// named after its table alias (`f_`, `ch_`, `cu_`), so they can share a row with another
    /// table's columns (`DeliveryRecord.loadForSending`).
    static let columns: Query = """
        f.id AS f_id, f.status AS f_status, f.chat_id AS f_chat_id, f.offline_since AS f_offline_since,
        f.first_message_id AS f_first_message_id, f.last_message_id AS f_last_message_id,
        ch.id AS ch_id, ch.name AS ch_name, ch.phone_enabled AS ch_phone_enabled, ch.email_enabled AS ch_email_enabled,
        ch.push_integrated AS ch_push_integrated, ch.messenger_sender_key AS ch_messenger_sender_key,
        ch.messenger_template_code AS ch_messenger_template_code, ch.sms_from AS ch_sms_from,
        ch.email_from_name AS ch_email_from_name, ch.email_from_address AS ch_email_from_address,
        ch.email_domain AS ch_email_domain, ch.email_domain_verified AS ch_email_domain_verified,
        ch.default_country AS ch_default_country, extract(epoch FROM ch.push_ack_timeout)::float8 AS ch_push_ack_timeout_seconds,
        ch.text_template AS ch_text_template, ch.text_subject AS ch_text_subject, ch.link_base_url AS ch_link_base_url,
        cu.id AS cu_id, cu.name AS cu_name, cu.phone AS cu_phone, cu.email AS cu_email, cu.country AS cu_country,
        cu.language AS cu_language, cu.follow_up AS cu_follow_up,
        EXISTS (SELECT 1 FROM public.activity a WHERE a.customer_id = f.customer_id AND a.at > f.offline_since
                  AND a.kind IN \(raw: ActivityKind.presentSQL)) AS f_customer_came_back,
        EXISTS (SELECT 1 FROM public.messages m WHERE m.chat_id = f.chat_id AND m.sender = 'customer' AND m.id > f.last_message_id)
        OR EXISTS (SELECT 1 FROM public.chat_reads r WHERE r.chat_id = f.chat_id AND r.read_at >= last.created_at) AS f_customer_read
        """
    static let tables = tables(followUps: "public.follow_ups f")

    /// `tables`, with the follow-up (`f`) read from `source`: e.g. a CTE that just inserted it.
    static func tables(followUps source: Query) -> Query {
        """
        \(source)
        JOIN public.channels ch ON ch.id = f.channel_id
        JOIN public.customers cu ON cu.id = f.customer_id
        LEFT JOIN public.messages last ON last.id = f.last_message_id
        """
    }

    /// The context in `row` (read by the names in `columns`), without its messages; nil when
    /// the follow-up's columns are NULL (an outer join found none).
    static func decode(_ row: Row) throws -> FollowUpContext? {
        guard let id = try row.decode("f_id", as: Int64?.self) else { return nil }
        let channel = Channel(
            id: try row.decode("ch_id"), name: try row.decode("ch_name"),
            phoneEnabled: try row.decode("ch_phone_enabled"), emailEnabled: try row.decode("ch_email_enabled"),
            pushIntegrated: try row.decode("ch_push_integrated"),
            messengerSenderKey: try row.decode("ch_messenger_sender_key"), messengerTemplateCode: try row.decode("ch_messenger_template_code"),
            smsFrom: try row.decode("ch_sms_from"), emailFromName: try row.decode("ch_email_from_name"),
            emailFromAddress: try row.decode("ch_email_from_address"), emailDomain: try row.decode("ch_email_domain"),
            emailDomainVerified: try row.decode("ch_email_domain_verified"), defaultCountry: try row.decode("ch_default_country"),
            pushAckTimeoutSeconds: try row.decode("ch_push_ack_timeout_seconds"), textTemplate: try row.decode("ch_text_template"),
            textSubject: try row.decode("ch_text_subject"), linkBaseURL: try row.decode("ch_link_base_url"))
        let customer = Customer(
            id: try row.decode("cu_id"), name: try row.decode("cu_name"),
            phone: try row.decode("cu_phone"), email: try row.decode("cu_email"),
            country: try row.decode("cu_country"), language: try row.decode("cu_language"),
            followUp: try row.decode("cu_follow_up"))
        let notWanted: String? = try row.decode("f_customer_came_back", as: Bool.self) ? "customer came back before it was sent"
            : try row.decode("f_customer_read", as: Bool.self) ? "customer read the chat before it was sent" : nil
        return FollowUpContext(followUpID: id, status: try row.decode("f_status", as: FollowUpStatus.self),
                               chatID: try row.decode("f_chat_id"), offlineSince: try row.decode("f_offline_since"),
                               firstMessageID: try row.decode("f_first_message_id"), lastMessageID: try row.decode("f_last_message_id"),
                               channel: channel, customer: customer, messages: [], notWanted: notWanted)
    }

    /// Reads the answers it carries (manager and bot messages, first to last).
    mutating func loadMessages(on db: some Queryable) async throws {
        messages = try await db.query("""
            SELECT \(Message.columns) FROM public.messages m
            WHERE m.chat_id = \(chatID) AND m.sender <> 'customer' AND m.id BETWEEN \(firstMessageID) AND \(lastMessageID)
            ORDER BY m.id
            """).decode(Message.self)
    }
}

extension FollowUpContext.Message: RowDecodable {
    /// The columns of `messages m` a `Message` is read from.
    static let columns: Query = "m.id, m.sender, m.body, m.created_at"

    init(row: Row) throws {
        self.init(id: try row.decode("id"), sender: try row.decode("sender"),
                  body: try row.decode("body"), createdAt: try row.decode("created_at"))
    }
}
