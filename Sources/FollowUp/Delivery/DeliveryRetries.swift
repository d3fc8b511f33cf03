import Foundation
import Jobs
import Postgres
import Providers

/// When a delivery is tried again (docs/providers.md): a retryable answer waits out the backoff
/// or the provider's `Retry-After` (capped) within the retry window; an answer never heard is
/// reconciled like an interruption.
extension DeliveryRunner {
    /// The provider may have taken an attempt whose answer we never heard (or could not read).
    /// Messenger and SMS/LMS stay `sending` and are looked up after `lookupGrace`; email and push
    /// go again with the same Message-ID / collapse id (at-least-once, deduplicable), within the
    /// retry window — never silently dropped.
    func unanswered(_ delivery: DeliveryRecord, _ followUp: FollowUpContext, _ error: ProviderError,
                            _ context: JobContext) async throws -> JobResult {
        if delivery.route.canBeLookedUp {
            _ = try await context.fenced { tx in
                try await tx.execute(DeliverySQL.lookingUp(delivery.id, reason: "no answer heard (\(Self.describe(error))); looking it up at the provider",
                                                           providerCode: error.providerCode))
            }
            logger.info("delivery answer not heard; will look it up", metadata: meta(delivery, ["error": "\(error)"]))
            return .snooze(settings.lookupGrace)
        }
        guard let delay = retryDelay(delivery, followUp, error, context) else {
            try await recordUnknown(delivery, reason: "no answer heard from the provider (\(Self.describe(error))) within the retry window; it may have arrived", context)
            return .done
        }
        _ = try await context.fenced { tx in
            let sameID = delivery.route == .email ? "Message-ID" : "collapse id"
            try await tx.execute(DeliverySQL.retryLater(delivery.id, reason: "no answer heard (\(Self.describe(error))); will send again with the same \(sameID)",
                                                        providerCode: error.providerCode))
        }
        logger.info("delivery answer not heard; will send again with the same id", metadata: meta(delivery, ["error": "\(error)"]))
        return .snooze(delay)
    }

    /// The wait before the next attempt after `error`, or nil when retrying is over: the retry
    /// window (from the first attempt) would be passed, or the attempts are used up (messenger:
    /// `messengerAttempts`, then SMS/LMS; rate-limited answers do not count).
    func retryDelay(_ delivery: DeliveryRecord, _ followUp: FollowUpContext, _ error: ProviderError, _ context: JobContext) -> Duration? {
        DeliveryDecisions.retryDelay(
            after: error, attempts: delivery.attempts,
            limit: delivery.route == .messenger ? settings.messengerAttempts : settings.deliveryAttempts,
            sinceFirstAttempt: delivery.sinceFirstAttempt, window: retryWindow(delivery, followUp),
            backoff: settings.retryBackoff.delay(afterAttempt: context.job.attempt), retryAfterCap: settings.retryAfterCap)
    }

    /// `retryWindow`; for push, its acknowledgement deadline (after that text and email go out,
    /// and a late push would only repeat them).
    func retryWindow(_ delivery: DeliveryRecord, _ followUp: FollowUpContext) -> Duration {
        guard delivery.route == .push else { return settings.retryWindow }
        return settings.pushAckTimeout ?? .milliseconds(Int64(followUp.channel.pushAckTimeoutSeconds * 1000))
    }

    /// Backoff by the job's run count (it rises with every run, sends and lookups alike); a
    /// provider's `Retry-After` is honoured up to `retryAfterCap`, and never shortens the backoff.
    func nextDelay(after error: ProviderError?, _ context: JobContext) -> Duration {
        DeliveryDecisions.nextDelay(after: error, backoff: settings.retryBackoff.delay(afterAttempt: context.job.attempt),
                                    retryAfterCap: settings.retryAfterCap)
    }
}
