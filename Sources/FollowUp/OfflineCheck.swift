import Foundation
import Jobs
import Logging
import Postgres

/// `followup.offline_check`: is this chat's customer offline with unseen answers?
///
/// Offline → one `follow_ups` row for all the unseen answers, and its dispatch job (after the
/// gather delay; with no gather delay, the plan is made here, in the same transaction, since
/// the dispatch job would only repeat these checks at once). Online → the next check is scheduled for exactly when the channel's timeout
/// would pass (a `left`/`tab_hidden` row pulls it forward). Not eligible, nothing unseen, or a
/// follow-up already on its way → done. Everything is decided under the chat's row lock and the
/// customer's presence lock, in the transaction that completes the job, so neither an answer nor
/// a `left` row inserted meanwhile is ever lost.
struct OfflineCheck: Sendable {
    let settings: FollowUpSettings
    let plan: ChannelPlan
    let logger: Logger

    enum Outcome: Sendable {
        case nothing(String)
        case created(followUpID: Int64, reason: String, plan: String?)
    }

    func run(_ payload: FollowUpJobs.OfflineCheck, _ context: JobContext) async throws -> JobResult {
        let outcome = try await context.complete { tx in
            ChannelPlan.commitWithoutWaitingForDisk(tx)
            return try await decide(payload.chatID, context: context, on: tx)
        }
        switch outcome {
        case .nothing(let why):
            logger.debug("no follow-up", metadata: ["chat_id": "\(payload.chatID)", "why": "\(why)"])
        case .created(let id, let reason, let plan):
            logger.info("customer offline with unseen answers; follow-up created",
                        metadata: ["chat_id": "\(payload.chatID)", "follow_up_id": "\(id)", "offline": "\(reason)",
                                   "plan": "\(plan ?? "after the gather delay")"])
        }
        return .done
    }

    func decide(_ chatID: Int64, context: JobContext, on tx: Transaction) async throws -> Outcome {
        // Lock order: the customer's presence lock (which a `left` row's trigger takes), then the
        // chat, then (at commit, or before enqueuing the next check) the job's own row — as an
        // app's message insert takes them: chat, then job. The three reads go in one round trip;
        // each statement starts after the locks before it are held, so the unseen answers are
        // read under both.
        let read = try await tx.pipeline([
            "SELECT pg_advisory_xact_lock(1718185301, (customer_id % 2147483647)::int) FROM public.chats WHERE id = \(chatID)",
            ChatState.lockQuery(chatID),
            UnseenMessages.query(chatID: chatID),
        ])
        guard let row = read[1].first else { return .nothing("unknown chat \(chatID)") }
        let chat = try ChatState(row: row)
        if let why = chat.ineligibility { return .nothing(why) }
        if chat.hasOpenFollowUp { return .nothing("a follow-up is already on its way") }
        guard let unseen = try UnseenMessages(read[2]) else { return .nothing("no unseen answers") }
        guard ChatState.worthAFollowUp(unseen) else { return .nothing("only bot messages unseen; a bot never starts a follow-up") }
        let timeout = settings.offlineTimeout?.seconds ?? chat.offlineTimeoutSeconds
        switch Presence.decide(latest: chat.latestActivity, now: chat.now, timeoutSeconds: timeout, fallbackSince: chat.createdAt) {
        case .online(let seconds):
            // This job completes (first, so its unique key is free); the next check is due when the
            // timeout would pass. Created in this transaction, it is visible to a `left` row's
            // trigger the moment that can run.
            context.markCompleted(on: tx)
            let wait = Duration.milliseconds(Int64((seconds * 1000).rounded(.up))) + settings.snoozeSlack
            try await JobQueue.enqueue(FollowUpJobs.OfflineCheck(chatID: chatID),
                                       options: EnqueueOptions(queue: settings.queue, delay: wait,
                                                               uniqueKey: FollowUpJobs.OfflineCheck.uniqueKey(chatID)),
                                       on: tx)
            return .nothing("customer online; checking again in \(Presence.describe(seconds: seconds))")
        case .offline(let since, let reason):
            // One follow-up per absence: an earlier one reached the customer and they have not
            // been back; this one waits for the cooldown, and answers arriving meanwhile join it
            // (dispatch re-reads the unseen answers; a return or a read cancels it).
            let cooldown = chat.cooldownUntil.map { max(0, $0.timeIntervalSince(chat.now)) } ?? 0
            if settings.gatherDelay <= .zero && cooldown <= 0 {
                // Completed first: planning may schedule this chat's next check under the same unique key.
                context.markCompleted(on: tx)
                // The follow-up, read back with everything planning needs, in one statement.
                guard let row = try await tx.first("""
                    WITH f AS (
                        INSERT INTO public.follow_ups (channel_id, chat_id, customer_id, first_message_id, last_message_id, message_count,
                                                offline_since, offline_reason)
                        VALUES (\(chat.channelID), \(chatID), \(chat.customerID), \(unseen.firstID), \(unseen.lastID), \(unseen.count),
                                \(since), \(reason))
                        RETURNING *
                    )
                    SELECT \(FollowUpContext.columns) FROM \(FollowUpContext.tables(followUps: "f"))
                    """), var followUp = try FollowUpContext.decode(row) else {
                    throw PermanentJobError("the follow-up of chat \(chatID) could not be read back")
                }
                followUp.messages = unseen.messages
                let record = FollowUpRecord(id: followUp.followUpID, channelID: chat.channelID, chatID: chatID,
                                            customerID: chat.customerID, status: .pending, offlineSince: since, pushDeadline: nil)
                return .created(followUpID: record.id, reason: reason, plan: try await plan.plan(record, followUp, on: tx))
            }
            // The follow-up and its dispatch job (after the gather delay) in one statement.
            let id = try await tx.scalar("""
                WITH f AS (
                    INSERT INTO public.follow_ups (channel_id, chat_id, customer_id, first_message_id, last_message_id, message_count,
                                            offline_since, offline_reason, not_before)
                    VALUES (\(chat.channelID), \(chatID), \(chat.customerID), \(unseen.firstID), \(unseen.lastID), \(unseen.count),
                            \(since), \(reason), \(chat.cooldownUntil)::timestamptz)
                    RETURNING id, not_before
                )
                SELECT f.id FROM f, public.jobs_enqueue(\(FollowUpJobs.Dispatch.kind), jsonb_build_object('follow_up_id', f.id), \(settings.queue),
                                                 greatest(now() + \(settings.gatherDelay)::interval, f.not_before)) AS job
                """, as: Int64.self)
            return .created(followUpID: id, reason: reason, plan: cooldown > 0 ? "after the cooldown, with any later answers" : nil)
        }
    }
}
