import Foundation
import Jobs
import Logging
import Postgres
import Providers
import Wallet

/// `followup.deliver`: one delivery, exactly once even across crashes.
///
/// 1. In one fenced transaction: the last-moment checks (customer came back? follow-up
///    cancelled?), the price, `queued → sending`, and `Wallet.hold`.
/// 2. Outside any transaction: the provider call, keyed by the delivery id.
/// 3. In the transaction that completes the job: the outcome, `Wallet.capture` or
///    `Wallet.release`, and what follows a failure (messenger → SMS/LMS; every push failed →
///    text and email).
///
/// A run that finds its delivery already `sending` (a crash or a lost lease between 1 and 3, or
/// an answer never heard) never resends blindly: messenger and SMS/LMS are looked up at the
/// provider (after a grace, since listings lag); email and push, which cannot be asked, are sent
/// again with the same Message-ID / collapse id. See `reconcile` and docs/providers.md.
struct DeliveryRunner: Sendable {
    let providers: FollowUpProviders
    let settings: FollowUpSettings
    let plan: ChannelPlan
    let logger: Logger

    func run(_ payload: FollowUpJobs.Deliver, _ context: JobContext) async throws -> JobResult {
        try await send(payload.deliveryID, context)
    }

    // MARK: Sending

    /// Steps 1–3 (or reconciliation, when an earlier run left the delivery `sending`).
    func send(_ deliveryID: Int64, _ context: JobContext) async throws -> JobResult {
        let prepared = try await prepare(deliveryID, context)
        switch prepared {
        case .proceed:
            break
        case .interrupted(let delivery):
            return try await reconcile(delivery, context)
        case .missing:
            logger.warning("delivery job for a delivery that does not exist", metadata: ["delivery_id": "\(deliveryID)"])
            try await context.complete { _ in }
            return .done
        case .stopped:
            try await context.complete { _ in }
            return .done
        }
        guard case .proceed(let delivery, let followUp) = prepared else { return .done }
        let result: Result<String, Error>
        let started = ContinuousClock.now
        do {
            result = .success(try await call(delivery, followUp))
            FollowUpMetrics.providerCall(delivery.route, ContinuousClock.now - started, error: nil)
        } catch {
            result = .failure(error)
            FollowUpMetrics.providerCall(delivery.route, ContinuousClock.now - started, error: error)
        }
        return try await record(result, delivery, followUp, context)
    }

    /// Step 3.
    func record(_ result: Result<String, Error>, _ delivery: DeliveryRecord, _ followUp: FollowUpContext,
                _ context: JobContext) async throws -> JobResult {
        switch result {
        case .success(let providerMessageID):
            try await context.complete { tx in
                finish(delivery.id, .sent, reason: nil, providerMessageID: providerMessageID, on: tx)
                capture(delivery, on: tx)
                try await MessengerResults.follow(delivery, settings: settings, on: tx)
            }
            logger.info("delivery sent", metadata: meta(delivery))
            FollowUpMetrics.delivery(delivery.route, .sent)
            return .done
        case .failure(let error as ProviderError) where error.outcomeUnknown:
            // No answer heard, or a 2xx we could not read: the provider may have it.
            return try await unanswered(delivery, followUp, error, context)
        case .failure(let error as ProviderError):
            let delay = error.isRetryable ? retryDelay(delivery, followUp, error, context) : nil
            switch DeliveryDecisions.afterRefusal(error, retryDelay: delay, attempts: delivery.attempts,
                                                  sinceFirstAttempt: delivery.sinceFirstAttempt) {
            case .retry(let delay, let givesAttemptBack):
                // The provider answered and did not take it: back to queued, tried again after `delay`.
                // A rate-limited answer does not use up an attempt.
                _ = try await context.fenced { tx in
                    try await tx.execute(DeliverySQL.retryLater(delivery.id, reason: "will retry: \(Self.describe(error))",
                                                                providerCode: error.providerCode, givingAttemptBack: givesAttemptBack))
                }
                logger.info("delivery failed; will retry", metadata: meta(delivery, ["error": "\(error)", "retry_in_ms": "\(Int(delay.seconds * 1000))"]))
                FollowUpMetrics.delivery(delivery.route, .retry)
                return .snooze(delay)
            case .fail(let reason):
                try await fail(delivery, followUp, reason: reason, providerCode: error.providerCode, context)
                logger.info("delivery failed", metadata: meta(delivery, ["error": "\(error)"]))
                FollowUpMetrics.delivery(delivery.route, .failed)
                return .done
            }
        case .failure(let error):
            // Cancelled or something unexpected: it stays `sending`, and the next run reconciles.
            throw error
        }
    }

    /// Records a final failure: the hold released, and what follows a failure (messenger → SMS/LMS).
    func fail(_ delivery: DeliveryRecord, _ followUp: FollowUpContext, reason: String, providerCode: String? = nil,
                      _ context: JobContext) async throws {
        try await context.complete { tx in
            finish(delivery.id, .failed, reason: reason, providerCode: providerCode, on: tx)
            try await release(delivery, on: tx)
            try await afterFailure(delivery, followUp, reason: reason, on: tx)
        }
    }

    enum Preparation: Sendable {
        case proceed(DeliveryRecord, FollowUpContext)
        /// Finished (or just recorded as excluded or failed): nothing to send.
        case stopped
        /// An earlier run left it `sending`: reconcile, never resend blindly.
        case interrupted(DeliveryRecord)
        case missing
    }

    /// Step 1.
    func prepare(_ deliveryID: Int64, _ context: JobContext) async throws -> Preparation {
        try await context.fenced { tx -> Preparation in
            // The fence locks this job's row, so no other run of this delivery is in here with us.
            guard let (loaded, context) = try await DeliveryRecord.loadForSending(deliveryID, on: tx) else { return .missing }
            var delivery = loaded
            if delivery.status == .sending { return .interrupted(delivery) }
            guard delivery.status == .queued else { return .stopped }
            guard let followUpID = delivery.followUpID, var followUp = context else {
                finish(delivery.id, .failed, reason: "its follow-up no longer exists", on: tx)
                return .stopped
            }
            // The email's HTML was composed when planned; rows from before that need the messages.
            if delivery.route == .email && delivery.html == nil { try await followUp.loadMessages(on: tx) }
            if followUp.status == .cancelled {
                finish(delivery.id, .excluded, reason: "the follow-up was cancelled before it was sent", on: tx)
                return .stopped
            }
            // The last moment: did the customer come back, or read the answers, meanwhile?
            if let reason = followUp.notWanted {
                finish(delivery.id, .excluded, reason: reason, on: tx)
                if let locked = try await FollowUpRecord.lock(followUpID, on: tx), locked.status != .cancelled {
                    let anySent = try await tx.first("""
                        SELECT 1 FROM public.deliveries WHERE follow_up_id = \(locked.id)
                          AND status IN ('sending', 'sent', 'delivered', 'unknown') LIMIT 1
                        """) != nil
                    if !anySent && locked.status != .acknowledged {
                        locked.end(.cancelled, reason: reason, settings: settings, on: tx)
                    }
                }
                return .stopped
            }
            // Opted out (SMS STOP, unsubscribe link, hard bounce) since it was planned: not sent.
            if let suppressed = delivery.suppressedBecause {
                finish(delivery.id, .suppressed, reason: Suppressions.describe(suppressed), on: tx)
                return .stopped
            }
            // The customer's wishes, again: a preference set since planning (or while a text was
            // held for quiet hours) still counts.
            let kind: FollowUpKind = delivery.route == .push ? .push : delivery.route == .email ? .email : .text
            if let reason = Consent.refusal(kind, customer: followUp.customer) {
                finish(delivery.id, .excluded, reason: reason, on: tx)
                return .stopped
            }
            if delivery.route == .push, !PushContent.isWellFormed(token: delivery.recipient ?? "", platform: delivery.platform ?? "") {
                let reason = "malformed device token (\(delivery.platform ?? "unknown platform"))"
                finish(delivery.id, .failed, reason: reason, on: tx)
                try await afterFailure(delivery, followUp, reason: reason, on: tx)
                return .stopped
            }
            let price: Int64
            do {
                price = try self.price(delivery)
            } catch let error as WalletError {
                finish(delivery.id, .failed, reason: error.description, on: tx)
                try await afterFailure(delivery, followUp, reason: error.description, on: tx)
                return .stopped
            }
            // Email: who it is from is decided now, and recorded with the attempt (delivery_report).
            let sender = delivery.route == .email ? try await EmailSender.resolve(followUp.channel, settings: settings, on: tx) : nil
            if let note = sender?.note {
                logger.info("email falls back to the product's sender", metadata: meta(delivery, [
                    "channel_id": "\(delivery.channelID)", "why": "\(note)"]))
            }
            tx.queue(DeliverySQL.markSending(delivery.id, priceMicros: price, sender: sender))
            do {
                try await Wallet.hold(channelID: delivery.channelID, deliveryID: delivery.id, amountMicros: price,
                                      route: delivery.route == .push ? nil : delivery.route.rawValue, on: tx)
            } catch let error as WalletError {
                // The wallet has already asked for an auto-charge top-up in this transaction, if on.
                finish(delivery.id, .failed, reason: error.description, on: tx)
                return .stopped
            }
            delivery.attempts += 1
            delivery.priceMicros = price
            delivery.status = .sending
            delivery.emailSender = sender
            return .proceed(delivery, followUp)
        }
    }

    /// The price to hold (`DeliveryDecisions.price`).
    private func price(_ delivery: DeliveryRecord) throws -> Int64 {
        try DeliveryDecisions.price(route: delivery.route, attempts: delivery.attempts, heldMicros: delivery.priceMicros,
                                    listPriceMicros: delivery.listPriceMicros, country: delivery.country)
    }

    /// Step 2: the provider call, with the delivery id as idempotency key. What each provider is
    /// sent is built in `ProviderMessages.swift`.
    func call(_ delivery: DeliveryRecord, _ followUp: FollowUpContext) async throws -> String {
        try await providers.send(delivery, followUp, settings: settings)
    }

    // MARK: After a failure

    /// Messenger failed → the same text by SMS/LMS (exactly one of the two reaches the customer).
    /// A push failed and no other push is still pending → text and email now, not at the deadline.
    func afterFailure(_ delivery: DeliveryRecord, _ followUp: FollowUpContext, reason: String, on tx: Transaction) async throws {
        switch delivery.route {
        case .messenger:
            // Sending loaded the follow-up without its messages (the messenger text was stored); the SMS/LMS needs them.
            let full = followUp.messages.isEmpty ? try await FollowUpContext.load(followUpID: followUp.followUpID, on: tx) ?? followUp : followUp
            let replacement = plan.textDelivery(full, plan: full.composeText(chatURLBase: settings.chatURLBase), messenger: false, replaces: delivery.id)
            replacement.insert(for: followUp, settings: settings, on: tx)
        case .push:
            guard let id = delivery.followUpID, let record = try await FollowUpRecord.lock(id, on: tx),
                  record.status == .awaitingPushAck else { return }
            let pending = try await tx.first("""
                SELECT 1 FROM public.deliveries WHERE follow_up_id = \(record.id) AND route = 'push' AND id <> \(delivery.id)
                  AND status IN ('queued', 'sending', 'sent', 'delivered', 'unknown') LIMIT 1
                """) != nil
            if !pending {
                _ = try await plan.planTextAndEmail(record, followUp, because: "push failed (\(reason))", on: tx)
            }
        case .sms, .lms, .email:
            return
        }
    }

    // MARK: Rows

    /// "90 s" or "31 min", for reasons.
    static func words(_ duration: Duration) -> String {
        let seconds = Int(duration.components.seconds)
        return seconds < 120 ? "\(seconds) s" : "\(seconds / 60) min"
    }

    /// A provider error as the delivery log shows it: the reason and the provider's own code.
    static func describe(_ error: ProviderError) -> String {
        error.providerCode.map { "\(error.reason.rawValue) (code \($0))" } ?? error.reason.rawValue
    }

    /// The wallet moves only for priced deliveries: free ones (push, email) never touch the
    /// channel's wallet rows, so they never wait on its lock.
    func capture(_ delivery: DeliveryRecord, on tx: Transaction) {
        if delivery.priceMicros > 0 { Wallet.queueCapture(deliveryID: delivery.id, on: tx) }
    }

    func release(_ delivery: DeliveryRecord, on tx: Transaction) async throws {
        if delivery.priceMicros > 0 { try await Wallet.release(deliveryID: delivery.id, on: tx) }
    }

    /// Records the delivery's outcome (`DeliverySQL.finish`). Queued: it travels with the
    /// transaction's next statement or its COMMIT (nothing here needs its answer).
    func finish(_ id: Int64, _ status: DeliveryStatus, reason: String?, providerMessageID: String? = nil,
                providerCode: String? = nil, on tx: Transaction) {
        tx.queue(DeliverySQL.finish(id, status, reason: reason, providerMessageID: providerMessageID, providerCode: providerCode))
    }

    func meta(_ delivery: DeliveryRecord, _ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["delivery_id": "\(delivery.id)", "route": "\(delivery.route.rawValue)",
                                         "attempt": "\(delivery.attempts)"]
        if let id = delivery.followUpID { metadata["follow_up_id"] = "\(id)" }
        metadata.merge(extra) { $1 }
        return metadata
    }
}
