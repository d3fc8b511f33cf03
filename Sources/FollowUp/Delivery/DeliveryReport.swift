import Foundation
import Postgres

/// "Were my texts sent, and if not, why?" — the `delivery_report` view, for `followup deliveries`.
public enum DeliveryReport {
    /// One delivery attempt, as the report shows it.
    public struct Row: Sendable, Equatable, RowDecodable {
        public var deliveryID: Int64
        public var channelID: Int64
        public var channelName: String
        public var followUpID: Int64?
        public var chatID: Int64?
        public var customerID: Int64?
        /// text, email or push.
        public var kind: String
        /// push, messenger, sms, lms or email.
        public var route: String
        /// queued, sending, sent (accepted, no receipt yet), delivered, undelivered, bounced,
        /// suppressed (opted out), failed, excluded, capped or unknown.
        public var status: DeliveryStatus
        /// Why, in words.
        public var why: String
        /// The SMS/LMS that replaced this messenger text, if any.
        public var replacedByRoute: String?
        public var replacedByStatus: DeliveryStatus?
        public var providerMessageID: String?
        public var segments: Int
        public var country: String?
        public var costMicros: Int64
        public var createdAt: Date
        public var sentAt: Date?
        /// Email: the From address's domain, whether the channel's DKIM key signed it, and why it
        /// did not come from the channel's own domain when the channel has one.
        public var fromDomain: String? = nil
        public var dkimSigned: Bool? = nil
        public var senderNote: String? = nil
        /// The provider's code: Twilio's error code, a messenger result code, a bounce's DSN status.
        public var providerCode: String?
    }

    /// Which rows to list.
    public struct Filter: Sendable {
        public var channelID: Int64?
        public var chatID: Int64?
        public var status: DeliveryStatus?
        /// text, email or push.
        public var kind: String?
        /// Only attempts created this recently (nil: any time).
        public var since: Duration?
        public var limit: Int
        public init(channelID: Int64? = nil, chatID: Int64? = nil, status: DeliveryStatus? = nil, kind: String? = nil,
                    since: Duration? = nil, limit: Int = 50) {
            self.channelID = channelID
            self.chatID = chatID
            self.status = status
            self.kind = kind
            self.since = since
            self.limit = limit
        }
    }

    /// The newest attempts matching `filter`, newest first.
    public static func list(_ filter: Filter, on db: some Queryable) async throws -> [Row] {
        try await db.query("""
            SELECT delivery_id, channel_id, channel_name, follow_up_id, chat_id, customer_id, kind, route, status, why,
                   replaced_by_route, replaced_by_status, provider_message_id, segments, country, cost_micros, created_at, sent_at,
                   from_domain, dkim_signed, sender_note, provider_code
            FROM public.delivery_report
            WHERE (\(filter.channelID)::bigint IS NULL OR channel_id = \(filter.channelID))
              AND (\(filter.chatID)::bigint IS NULL OR chat_id = \(filter.chatID))
              AND (\(filter.status)::text IS NULL OR status = \(filter.status))
              AND (\(filter.kind)::text IS NULL OR kind = \(filter.kind))
              AND (\(filter.since)::interval IS NULL OR created_at >= now() - \(filter.since)::interval)
            ORDER BY created_at DESC, delivery_id DESC
            LIMIT \(filter.limit)
            """).decode(Row.self)
    }

    /// Counts per kind and status (and what they cost), for a one-screen answer.
    public struct Count: Sendable, Equatable {
        public var kind: String
        public var status: DeliveryStatus
        public var count: Int
        public var costMicros: Int64
    }

    public static func summary(channelID: Int64?, since: Duration?, on db: some Queryable) async throws -> [Count] {
        try await db.query("""
            SELECT kind, status, count(*)::int AS count, coalesce(sum(cost_micros), 0)::bigint AS cost_micros FROM public.delivery_report
            WHERE (\(channelID)::bigint IS NULL OR channel_id = \(channelID))
              AND (\(since)::interval IS NULL OR created_at >= now() - \(since)::interval)
            GROUP BY kind, status ORDER BY kind, status
            """).map {
                Count(kind: try $0.decode("kind"), status: try $0.decode("status"),
                      count: try $0.decode("count"), costMicros: try $0.decode("cost_micros"))
            }
    }
}

extension DeliveryReport.Row {
    /// A row of the `delivery_report` view, by column name.
    public init(row: Postgres.Row) throws {
        self.init(deliveryID: try row.decode("delivery_id"), channelID: try row.decode("channel_id"),
                  channelName: try row.decode("channel_name"), followUpID: try row.decode("follow_up_id"),
                  chatID: try row.decode("chat_id"), customerID: try row.decode("customer_id"),
                  kind: try row.decode("kind"), route: try row.decode("route"),
                  status: try row.decode("status"), why: try row.decode("why"),
                  replacedByRoute: try row.decode("replaced_by_route"), replacedByStatus: try row.decode("replaced_by_status"),
                  providerMessageID: try row.decode("provider_message_id"), segments: try row.decode("segments"),
                  country: try row.decode("country"), costMicros: try row.decode("cost_micros"),
                  createdAt: try row.decode("created_at"), sentAt: try row.decode("sent_at"),
                  fromDomain: try row.decode("from_domain"), dkimSigned: try row.decode("dkim_signed"),
                  senderNote: try row.decode("sender_note"), providerCode: try row.decode("provider_code"))
    }
}
