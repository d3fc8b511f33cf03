import Foundation
import Jobs
import Logging
import Postgres

/// `followup.offline_check`: is this chat's customer offline with unseen answers?
///
/// Offline → one `follow_ups` row for all the unseen answers, and its dispatch job (after the
/// gather delay). Online → the next check is scheduled for exactly when the channel's timeout
/// would pass (a `left`/`tab_hidden` row pulls it forward). Not eligible, nothing unseen, or a
/// follow-up already on its way → done. Everything is decided under the chat's row lock and the
/// customer's presence lock, in the transaction that completes the job, so neither an answer nor
/// a `left` row inserted meanwhile is ever lost.
struct OfflineCheck: Sendable {
    let settings: FollowUpSettings
    let logger: Logger

    enum Outcome: Sendable {
        case nothing(String)
        case created(followUpID: Int64, reason: String)
    }

    func run(_ payload: FollowUpJobs.OfflineCheck, _ context: JobContext) async throws -> JobResult {
        let outcome = try await context.complete { tx in try await decide(payload.chatID, context: context, on: tx) }
        switch outcome {
        case .nothing(let why):
            logger.debug("no follow-up", metadata: ["chat_id": "\(payload.chatID)", "why": "\(why)"])
        case .created(let id, let reason):
            logger.info("customer offline with unseen answers; follow-up created",
                        metadata: ["chat_id": "\(payload.chatID)", "follow_up_id": "\(id)", "offline": "\(reason)"])
        }
        return .done
    }

    func decide(_ chatID: Int64, context: JobContext, on tx: Transaction) async throws -> Outcome {
        // Lock order: the customer's presence lock (which a `left` row's trigger takes), then the chat.
        guard let customerID = try await tx.first("SELECT customer_id FROM chats WHERE id = \(chatID)")?.decode(Int64.self, at: 0) else {
            return .nothing("unknown chat \(chatID)")
        }
        try await tx.execute("SELECT pg_advisory_xact_lock(1718185301, (\(customerID)::bigint % 2147483647)::int)")
        guard let chat = try await ChatState.lock(chatID, on: tx) else { return .nothing("unknown chat \(chatID)") }
        // Now the job itself (its row last, as an app's message insert takes them: chat, then job),
        // so a next check can be enqueued under the same unique key below.
        try await context.markCompleted(on: tx)
        if let why = chat.ineligibility { return .nothing(why) }
        if chat.hasOpenFollowUp { return .nothing("a follow-up is already on its way") }
        guard let unseen = try await UnseenMessages.find(chatID: chatID, on: tx) else { return .nothing("no unseen answers") }
        let timeout = settings.offlineTimeout?.seconds ?? chat.offlineTimeoutSeconds
        let latest = try await Presence.latestActivity(customerID: chat.customerID, on: tx)
        switch Presence.decide(latest: latest, now: chat.now, timeoutSeconds: timeout, fallbackSince: chat.createdAt) {
        case .online(let seconds):
            // This job completes; the next check is due when the timeout would pass. Created in this
            // transaction, it is visible to a `left` row's trigger the moment that can run.
            let wait = Duration.milliseconds(Int64((seconds * 1000).rounded(.up))) + settings.snoozeSlack
            try await JobQueue.enqueue(FollowUpJobs.OfflineCheck(chatID: chatID),
                                       options: EnqueueOptions(queue: settings.queue, delay: wait,
                                                               uniqueKey: FollowUpJobs.OfflineCheck.uniqueKey(chatID)),
                                       on: tx)
            return .nothing("customer online; checking again in \(Presence.describe(seconds: seconds))")
        case .offline(let since, let reason):
            let id = try await tx.scalar("""
                INSERT INTO follow_ups (channel_id, chat_id, customer_id, first_message_id, last_message_id, message_count,
                                        offline_since, offline_reason)
                VALUES (\(chat.channelID), \(chatID), \(chat.customerID), \(unseen.firstID), \(unseen.lastID), \(unseen.count),
                        \(since), \(reason))
                RETURNING id
                """, as: Int64.self)
            try await JobQueue.enqueue(FollowUpJobs.Dispatch(followUpID: id),
                                       options: EnqueueOptions(queue: settings.queue,
                                                               delay: settings.gatherDelay > .zero ? settings.gatherDelay : nil),
                                       on: tx)
            return .created(followUpID: id, reason: reason)
        }
    }
}
