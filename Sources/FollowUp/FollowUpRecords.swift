import Foundation
import Postgres

/// The `follow_ups` row, as the steps after the offline check read it, and the statements that
/// change its status (pending → awaiting_push_ack → notified | acknowledged | cancelled). Creating
/// one is the offline check's (`OfflineCheck`).
struct FollowUpRecord: Sendable {
    var id: Int64
    var channelID: Int64
    var chatID: Int64
    var customerID: Int64
    var status: FollowUpStatus
    var offlineSince: Date
    var pushDeadline: Date?

    var isOpen: Bool { status.isOpen }

    /// Locks the follow-up's chat and then the follow-up (always in that order, like the offline
    /// check), and reads it. Nil: no such follow-up.
    static func lock(_ id: Int64, on tx: Transaction) async throws -> FollowUpRecord? {
        guard try await tx.first("""
            SELECT 1 FROM public.chats c JOIN public.follow_ups f ON f.chat_id = c.id WHERE f.id = \(id) FOR UPDATE OF c
            """) != nil else { return nil }
        guard let row = try await tx.first("""
            SELECT id, channel_id, chat_id, customer_id, status, offline_since, push_deadline
            FROM public.follow_ups WHERE id = \(id) FOR UPDATE
            """) else { return nil }
        return FollowUpRecord(id: try row.decode("id"), channelID: try row.decode("channel_id"),
                              chatID: try row.decode("chat_id"), customerID: try row.decode("customer_id"),
                              status: try row.decode("status"), offlineSince: try row.decode("offline_since"),
                              pushDeadline: try row.decode("push_deadline"))
    }

    /// Whether the customer came back (any heartbeat, page view or visible tab after they went offline).
    func customerReturned(on tx: Transaction) async throws -> Bool {
        try await tx.first("""
            SELECT 1 FROM public.follow_ups f
            JOIN public.activity a ON a.customer_id = f.customer_id AND a.at > f.offline_since
            WHERE f.id = \(id) AND a.kind IN \(raw: ActivityKind.presentSQL)
            LIMIT 1
            """) != nil
    }

    /// pending → awaiting_push_ack: its pushes are queued; the acknowledgement wait of `timeout`
    /// starts when they go (now, or when quiet hours hold them until). Returns the deadline.
    func awaitPushAck(heldUntil: Date?, timeout: Duration, on tx: Transaction) async throws -> Date {
        try await tx.scalar("""
            UPDATE public.follow_ups SET status = 'awaiting_push_ack',
                push_deadline = greatest(now(), \(heldUntil)::timestamptz) + \(timeout)::interval
            WHERE id = \(id) RETURNING push_deadline
            """, as: Date.self)
    }

    /// Ends the follow-up (`status`: notified, acknowledged or cancelled). When answers arrived
    /// after the ones it carried, or it was cancelled (its answers are unseen again), the chat's
    /// next offline check is scheduled; otherwise a later answer's own trigger schedules it.
    /// `recheck: false` cancels without that check: nothing could be sent (routes off, no
    /// contact data), and checking again at once would only cancel again, forever.
    /// The caller holds the chat lock (`lock`), which orders this with message inserts.
    func end(_ status: FollowUpStatus, reason: String, recheck: Bool = true, settings: FollowUpSettings, on tx: Transaction) {
        // One statement, queued (it travels with the next statement or the COMMIT): the end, and
        // the next check when it is due (its payload and key as the `messages` trigger writes them).
        tx.queue("""
            WITH ended AS (
                UPDATE public.follow_ups SET status = \(status), reason = \(reason), finished_at = now()
                WHERE id = \(id) RETURNING chat_id, last_message_id
            )
            SELECT public.jobs_enqueue(\(FollowUpJobs.OfflineCheck.kind), jsonb_build_object('chat_id', e.chat_id), \(settings.queue),
                                now(), 2::smallint, 20, \(FollowUpJobs.OfflineCheck.uniqueKey(chatID)))
            FROM ended e
            WHERE \(status == .cancelled && recheck)
               OR EXISTS (SELECT 1 FROM public.messages m WHERE m.chat_id = e.chat_id AND m.sender <> 'customer' AND m.id > e.last_message_id)
            """)
    }
}
