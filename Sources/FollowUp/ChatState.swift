import Foundation
import Postgres

/// A chat as the offline check sees it, read under the chat's row lock.
struct ChatState: Sendable, RowDecodable {
    var chatID: Int64
    var channelID: Int64
    var customerID: Int64
    var kind: ChatKind
    var openedBy: ChatOpener
    var createdAt: Date
    var offlineTimeoutSeconds: Double
    var customerEverWrote: Bool
    var hasOpenFollowUp: Bool
    /// The customer's newest activity row (kind, time), if any.
    var latestActivity: (kind: ActivityKind, at: Date)?
    var now: Date
    /// One follow-up per absence: when an earlier follow-up of this chat went out and the
    /// customer has not come back since, a new one may not go out before this (that follow-up's
    /// end plus the channel's `follow_up_cooldown`). Nil: no such follow-up, or the cooldown is 0.
    var cooldownUntil: Date?

    /// Locks the chat row (`FOR UPDATE`) and reads it. The lock orders this transaction with
    /// message inserts (their foreign key check takes a share lock on the chat) and with the
    /// transactions that end a follow-up, so no answer slips between a check and its completion.
    /// A row of it decodes with `init(row:)`; no row: no such chat.
    static func lockQuery(_ chatID: Int64) -> Query {
        """
            SELECT c.id AS chat_id, c.channel_id, c.customer_id, c.kind, c.opened_by, c.created_at,
                   extract(epoch FROM ch.offline_timeout)::float8 AS offline_timeout_seconds,
                   EXISTS (SELECT 1 FROM public.messages m WHERE m.chat_id = c.id AND m.sender = 'customer') AS customer_ever_wrote,
                   EXISTS (SELECT 1 FROM public.follow_ups f WHERE f.chat_id = c.id AND f.status IN ('pending', 'awaiting_push_ack'))
                       AS has_open_follow_up,
                   now() AS now, latest.kind AS latest_kind, latest.at AS latest_at,
                   CASE WHEN prev.finished_at + ch.follow_up_cooldown > now()
                         AND NOT EXISTS (SELECT 1 FROM public.activity a WHERE a.customer_id = c.customer_id
                                           AND a.at > prev.offline_since AND a.kind IN ('heartbeat', 'page_view', 'tab_visible'))
                         AND NOT EXISTS (SELECT 1 FROM public.messages m WHERE m.chat_id = c.id AND m.sender = 'customer'
                                           AND m.id > prev.last_message_id)
                         AND NOT EXISTS (SELECT 1 FROM public.chat_reads r WHERE r.chat_id = c.id AND r.read_at > prev.finished_at)
                    THEN prev.finished_at + ch.follow_up_cooldown END AS cooldown_until
            FROM public.chats c JOIN public.channels ch ON ch.id = c.channel_id
            LEFT JOIN LATERAL (\(NewestActivity.query(customer: "c.customer_id"))) latest ON true
            -- The chat's latest follow-up that reached the customer (text/email out, or push received).
            LEFT JOIN LATERAL (SELECT f.finished_at, f.offline_since, f.last_message_id FROM public.follow_ups f
                               WHERE f.chat_id = c.id AND f.status IN ('notified', 'acknowledged')
                               ORDER BY f.id DESC LIMIT 1) prev ON true
            WHERE c.id = \(chatID)
            FOR UPDATE OF c
            """
    }

    /// Why this chat never gets a follow-up, or nil when it may.
    var ineligibility: String? {
        if kind == .marketing { return "marketing chats are not followed up" }
        if openedBy == .manager && !customerEverWrote { return "a manager opened the chat and the customer never replied" }
        return nil
    }

    /// Bot messages follow a manager's answer but never start a follow-up on their own: unseen
    /// answers that are all the bot's ("Rate our service!") wait until a manager answers too.
    static func worthAFollowUp(_ unseen: UnseenMessages) -> Bool {
        unseen.messages.contains { $0.sender != "bot" }
    }
}

/// The unseen answers of a chat: manager and bot messages after the customer's last message in
/// the chat and after the last `chat_reads` row, and not already carried by an earlier follow-up
/// (`excludingFollowUp`: ignore that follow-up's own coverage, when re-reading its range).
struct UnseenMessages: Sendable {
    /// The answers, oldest first (never empty).
    var messages: [FollowUpContext.Message]

    var firstID: Int64 { messages[0].id }
    var lastID: Int64 { messages[messages.count - 1].id }
    var count: Int { messages.count }

    static func find(chatID: Int64, excludingFollowUp: Int64? = nil, on db: some Queryable) async throws -> UnseenMessages? {
        try UnseenMessages(try await db.query(query(chatID: chatID, excludingFollowUp: excludingFollowUp)))
    }

    /// The statement of `find`, for sending it with others in one round trip.
    static func query(chatID: Int64, excludingFollowUp: Int64? = nil) -> Query {
        """
            SELECT \(FollowUpContext.Message.columns) FROM public.messages m
            WHERE m.chat_id = \(chatID) AND m.sender <> 'customer'
              AND m.id > coalesce((SELECT max(id) FROM public.messages WHERE chat_id = \(chatID) AND sender = 'customer'), 0)
              AND m.id > coalesce((SELECT max(last_message_id) FROM public.follow_ups
                                   WHERE chat_id = \(chatID) AND status <> 'cancelled'
                                     AND id IS DISTINCT FROM \(excludingFollowUp)::bigint), 0)
              AND m.created_at > coalesce((SELECT max(read_at) FROM public.chat_reads WHERE chat_id = \(chatID)), '-infinity')
            ORDER BY m.id
            """
    }
}

extension ChatState {
    /// A row of `lockQuery`.
    init(row: Row) throws {
        let latest = try row.decode("latest_kind", as: ActivityKind?.self).map { (kind: $0, at: try row.decode("latest_at", as: Date.self)) }
        self.init(chatID: try row.decode("chat_id"), channelID: try row.decode("channel_id"),
                  customerID: try row.decode("customer_id"), kind: try row.decode("kind"),
                  openedBy: try row.decode("opened_by"), createdAt: try row.decode("created_at"),
                  offlineTimeoutSeconds: try row.decode("offline_timeout_seconds"),
                  customerEverWrote: try row.decode("customer_ever_wrote"),
                  hasOpenFollowUp: try row.decode("has_open_follow_up"), latestActivity: latest,
                  now: try row.decode("now"), cooldownUntil: try row.decode("cooldown_until"))
    }
}

extension UnseenMessages {
    /// The result of `query`; nil when it has no row.
    init?(_ rows: Rows) throws {
        let messages = try rows.decode(FollowUpContext.Message.self)
        if messages.isEmpty { return nil }
        self.init(messages: messages)
    }
}
