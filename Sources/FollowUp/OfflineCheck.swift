import Foundation
import Jobs
import Logging
import Postgres

/// `followup.offline_check`: is this chat's customer offline with unseen answers?
///
/// Offline → one `follow_ups` row for all the unseen answers, and its dispatch job (after the
/// gather delay). Online → the job snoozes until exactly when the channel's timeout would pass
/// (a `left`/`tab_hidden` row pulls it forward). Not eligible, nothing unseen, or a follow-up
/// already on its way → done. Everything is decided under the chat's row lock, in the
/// transaction that completes the job, so an answer inserted meanwhile is never lost.
struct OfflineCheck: Sendable {
    let settings: FollowUpSettings
    let logger: Logger

    enum Outcome: Sendable {
        case nothing(String)
        case created(followUpID: Int64, reason: String)
    }

    struct StillOnline: Error { var seconds: Double }

    func run(_ payload: FollowUpJobs.OfflineCheck, _ context: JobContext) async throws -> JobResult {
        do {
            let outcome = try await context.complete { tx in try await decide(payload.chatID, on: tx) }
            switch outcome {
            case .nothing(let why):
                logger.debug("no follow-up", metadata: ["chat_id": "\(payload.chatID)", "why": "\(why)"])
            case .created(let id, let reason):
                logger.info("customer offline with unseen answers; follow-up created",
                            metadata: ["chat_id": "\(payload.chatID)", "follow_up_id": "\(id)", "offline": "\(reason)"])
            }
            return .done
        } catch let online as StillOnline {
            let wait = Duration.milliseconds(Int64((online.seconds * 1000).rounded(.up))) + settings.snoozeSlack
            return .snooze(wait)
        }
    }

    func decide(_ chatID: Int64, on tx: Transaction) async throws -> Outcome {
        guard let chat = try await ChatState.lock(chatID, on: tx) else { return .nothing("unknown chat \(chatID)") }
        if let why = chat.ineligibility { return .nothing(why) }
        if chat.hasOpenFollowUp { return .nothing("a follow-up is already on its way") }
        guard let unseen = try await UnseenMessages.find(chatID: chatID, on: tx) else { return .nothing("no unseen answers") }
        let timeout = settings.offlineTimeout?.seconds ?? chat.offlineTimeoutSeconds
        let latest = try await Presence.latestActivity(customerID: chat.customerID, on: tx)
        switch Presence.decide(latest: latest, now: chat.now, timeoutSeconds: timeout, fallbackSince: chat.createdAt) {
        case .online(let seconds):
            throw StillOnline(seconds: seconds)
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
