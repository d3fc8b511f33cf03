import Foundation
import Jobs
import Logging
import Postgres
import Providers

/// A delivery found `sending` with no outcome: one rule per provider (docs/providers.md) —
/// texts are looked up, email and push are sent again with the same id, `unknown` is the last resort.
extension DeliveryRunner {
    /// A run found the delivery `sending`: an earlier run called (or was about to call) the
    /// provider and never recorded the outcome (a crash, a lost lease, an answer never heard).
    ///
    /// - Email and push cannot be asked: sent again with the same Message-ID / collapse id.
    /// - Messenger and SMS/LMS are looked up. Found: recorded as the provider says. Not found:
    ///   only once `lookupGrace` has passed since the attempt (a listing may lag) is it taken as
    ///   "never received" and sent again under the same key. The provider unreachable: lookups
    ///   are retried with backoff until `lookupWindow` has passed, then the delivery is `unknown`.
    func reconcile(_ delivery: DeliveryRecord, _ context: JobContext) async throws -> JobResult {
        guard let followUpID = delivery.followUpID,
              let followUp = try await FollowUpContext.load(followUpID: followUpID, on: context.database) else {
            try await recordUnknown(delivery, reason: "interrupted while sending, and its follow-up is gone", context)
            return .done
        }
        guard delivery.route.canBeLookedUp else {
            guard delivery.sinceFirstAttempt <= retryWindow(delivery, followUp) else {
                try await recordUnknown(delivery, reason: "interrupted while sending, after the retry window; it may have arrived", context)
                return .done
            }
            logger.info("interrupted delivery is sent again with the same id", metadata: meta(delivery))
            return try await sendAgain(delivery, context)
        }
        let found: ProviderLookup?
        do {
            found = try await lookup(delivery, followUp)
        } catch let error as ProviderError where error.isRetryable {
            let delay = nextDelay(after: error, context)
            guard delivery.sinceLastAttempt + delay <= settings.lookupWindow else {
                try await recordUnknown(delivery, reason: "interrupted while sending, and the provider could not be asked within \(Self.words(settings.lookupWindow)) (\(Self.describe(error))); not sent again", context)
                return .done
            }
            logger.info("delivery lookup failed; will retry", metadata: meta(delivery, ["error": "\(error)", "retry_in_ms": "\(Int(delay.seconds * 1000))"]))
            return .snooze(delay)
        } catch let error as ProviderError {
            try await recordUnknown(delivery, reason: "interrupted while sending, and the provider lookup failed (\(Self.describe(error))); not sent again", context)
            return .done
        }
        if let found { return try await settle(delivery, followUp, found, context) }
        // Not listed (yet?): a provider may list a message some time after accepting it.
        let waited = delivery.sinceLastAttempt
        if waited < settings.lookupGrace {
            let delay = max(.milliseconds(10), min(settings.lookupGrace - waited, nextDelay(after: nil, context)))
            logger.debug("interrupted delivery not listed yet; looking again", metadata: meta(delivery))
            return .snooze(delay)
        }
        guard delivery.sinceFirstAttempt <= settings.retryWindow else {
            try await fail(delivery, followUp, reason: "never reached the provider, and the retry window is over", context)
            return .done
        }
        // The provider never got it: send it now, under the same idempotency key.
        logger.info("interrupted delivery never reached the provider; sending it", metadata: meta(delivery))
        return try await sendAgain(delivery, context)
    }

    func lookup(_ delivery: DeliveryRecord, _ followUp: FollowUpContext) async throws -> ProviderLookup? {
        switch delivery.route {
        case .messenger:
            guard let provider = providers.messenger else { throw ProviderError(.final, .misconfigured) }
            return try await provider.lookup(idempotencyKey: delivery.idempotencyKey)
        case .sms, .lms:
            return try await providers.text.lookup(TextMessage(delivery, followUp, settings: settings))
        case .push, .email:
            return nil
        }
    }

    /// Back to queued and straight into a new attempt (same idempotency key, same Message-ID).
    func sendAgain(_ delivery: DeliveryRecord, _ context: JobContext) async throws -> JobResult {
        _ = try await context.fenced { tx in
            try await tx.execute(DeliverySQL.requeueInterrupted(delivery.id))
        }
        return try await send(delivery.id, context)
    }

    /// Records what the provider's lookup said about an interrupted attempt.
    func settle(_ delivery: DeliveryRecord, _ followUp: FollowUpContext, _ found: ProviderLookup,
                        _ context: JobContext) async throws -> JobResult {
        logger.info("interrupted delivery reconciled by lookup", metadata: meta(delivery, ["found": "\(found.status.rawValue)"]))
        try await context.complete { tx in
            switch found.status {
            case .accepted, .delivered:
                finish(delivery.id, found.status == .delivered ? .delivered : .sent,
                                 reason: "confirmed by the provider after an interruption",
                                 providerMessageID: found.providerMessageID, on: tx)
                capture(delivery, on: tx)
                if found.status == .accepted { try await MessengerResults.follow(delivery, settings: settings, on: tx) }
            case .failed:
                let reason = "the provider reports it failed"
                finish(delivery.id, .failed, reason: reason, providerMessageID: found.providerMessageID, on: tx)
                try await release(delivery, on: tx)
                try await afterFailure(delivery, followUp, reason: reason, on: tx)
            }
        }
        return .done
    }

    /// The last resort: nobody can tell whether it arrived. The hold is released (the company is
    /// not charged for a text nobody can confirm), nothing is sent again and nothing falls back
    /// to another route; `delivery_report` shows it with the reason, and this logs one line at
    /// `error` with `alert=delivery_outcome_unknown` for an operator to alert on.
    func recordUnknown(_ delivery: DeliveryRecord, reason: String, _ context: JobContext) async throws {
        try await context.complete { tx in
            finish(delivery.id, .unknown, reason: reason, on: tx)
            try await release(delivery, on: tx)
        }
        logger.error("delivery outcome unknown", metadata: meta(delivery, ["alert": "delivery_outcome_unknown", "reason": "\(reason)"]))
        FollowUpMetrics.delivery(delivery.route, .unknown)
    }
}
