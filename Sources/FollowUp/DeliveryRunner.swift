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
            FollowUpMetrics.delivery(delivery.route, "sent")
            return .done
        case .failure(let error as ProviderError) where error.outcomeUnknown:
            // No answer heard, or a 2xx we could not read: the provider may have it.
            return try await unanswered(delivery, followUp, error, context)
        case .failure(let error as ProviderError):
            if error.isRetryable, let delay = retryDelay(delivery, followUp, error, context) {
                // The provider answered and did not take it: back to queued, tried again after `delay`.
                // A rate-limited answer does not use up an attempt.
                let rateLimited = error.reason == .rateLimited
                _ = try await context.fenced { tx in
                    try await tx.execute("""
                        UPDATE public.deliveries SET status = 'queued', reason = \("will retry: \(Self.describe(error))"),
                            provider_code = \(error.providerCode), attempts = attempts - \(rateLimited ? 1 : 0), updated_at = now()
                        WHERE id = \(delivery.id)
                        """)
                }
                logger.info("delivery failed; will retry", metadata: meta(delivery, ["error": "\(error)", "retry_in_ms": "\(Int(delay.seconds * 1000))"]))
                FollowUpMetrics.delivery(delivery.route, "retry")
                return .snooze(delay)
            }
            let reason = error.isRetryable
                ? "gave up after \(delivery.attempts) attempts in \(Self.words(delivery.sinceFirstAttempt)): \(Self.describe(error))"
                : Self.describe(error)
            try await fail(delivery, followUp, reason: reason, providerCode: error.providerCode, context)
            logger.info("delivery failed", metadata: meta(delivery, ["error": "\(error)"]))
            FollowUpMetrics.delivery(delivery.route, "failed")
            return .done
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
            tx.queue("""
                UPDATE public.deliveries SET status = 'sending', sending_at = coalesce(sending_at, now()), attempts = attempts + 1,
                    price_micros = \(price), reason = NULL, updated_at = now(),
                    from_domain = \(sender?.fromDomain), dkim_selector = \(sender?.key?.selector), sender_note = \(sender?.note)
                WHERE id = \(delivery.id)
                """)
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

    /// The text's price by route, country and segments (held now, charged when sent), from the
    /// price list as read with the delivery. Push is free; email is free unless the price list
    /// has an email price. A retry keeps its first price (and its hold), also after a
    /// rate-limited attempt that gave its attempt back.
    private func price(_ delivery: DeliveryRecord) throws -> Int64 {
        if delivery.attempts > 0 || delivery.priceMicros > 0 { return delivery.priceMicros }
        switch delivery.route {
        case .push:
            return 0
        case .email:
            return delivery.listPriceMicros ?? 0
        case .messenger, .sms, .lms:
            guard let price = delivery.listPriceMicros else {
                throw WalletError.noPrice(route: delivery.route.rawValue, country: delivery.country ?? "*")
            }
            return price
        }
    }

    /// Step 2: the provider call, with the delivery id as idempotency key.
    func call(_ delivery: DeliveryRecord, _ followUp: FollowUpContext) async throws -> String {
        switch delivery.route {
        case .push:
            guard let platform = delivery.platform.flatMap(PushPlatform.init(rawValue:)),
                  let provider = providers.push else {
                throw ProviderError(.final, ProviderError.Reason("push is not configured for \(delivery.platform ?? "this platform")"))
            }
            return try await provider.send(PushNotification(
                platform: platform, deviceToken: delivery.recipient ?? "", title: delivery.subject ?? followUp.channel.name,
                body: delivery.body ?? "",
                data: ["follow_up_id": String(followUp.followUpID), "chat_id": String(followUp.chatID),
                       "delivery_id": String(delivery.id), "device_id": delivery.deviceID.map(String.init) ?? "",
                       "receipt_token": delivery.receiptToken ?? ""],
                collapseKey: "followup-\(followUp.followUpID)"))
        case .messenger:
            guard let provider = providers.messenger, let senderKey = followUp.channel.messengerSenderKey,
                  let templateCode = followUp.channel.messengerTemplateCode else {
                throw ProviderError(.final, ProviderError.Reason("messenger is not configured"))
            }
            return try await provider.send(MessengerMessage(
                phone: delivery.recipient ?? "", senderKey: senderKey, templateCode: templateCode,
                text: delivery.body ?? "", idempotencyKey: delivery.idempotencyKey))
        case .sms, .lms:
            return try await providers.text.send(textMessage(delivery, followUp))
        case .email:
            let sender = delivery.emailSender
            let envelope = EmailContent.Envelope(followUp, settings: settings, signedDomain: sender?.signedDomain)
            let composed = delivery.html == nil || delivery.subject == nil || delivery.body == nil
                ? EmailContent(followUp, settings: settings) : nil
            return try await providers.email.send(EmailMessage(
                fromName: envelope.fromName, fromAddress: envelope.fromAddress, to: delivery.recipient ?? "",
                toName: followUp.customer.name, replyTo: envelope.replyTo, subject: delivery.subject ?? composed?.subject ?? "",
                text: delivery.body ?? composed?.text ?? "", html: delivery.html ?? composed?.html ?? "",
                messageID: EmailContent.messageID(deliveryID: delivery.id, settings: settings), dkim: sender?.key,
                listUnsubscribe: EmailContent.listUnsubscribe(deliveryID: delivery.id, settings: settings),
                returnPath: settings.replyTokens?.bounceAddress(deliveryID: delivery.id)))
        }
    }

    func textMessage(_ delivery: DeliveryRecord, _ followUp: FollowUpContext) -> TextMessage {
        TextMessage(to: delivery.recipient ?? "", from: followUp.channel.smsFrom ?? settings.defaultSMSFrom,
                    body: delivery.body ?? "", route: delivery.route == .lms ? .lms : .sms,
                    subject: delivery.route == .lms ? delivery.subject : nil, idempotencyKey: delivery.idempotencyKey)
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

    /// Records the delivery's outcome. Queued: it travels with the transaction's next statement
    /// or its COMMIT (nothing here needs its answer). A `sent` meets a receipt the provider already
    /// reported while the send was in flight (`DeliveryReceipts`): the receipt's status wins.
    func finish(_ id: Int64, _ status: DeliveryStatus, reason: String?, providerMessageID: String? = nil,
                providerCode: String? = nil, on tx: Transaction) {
        tx.queue("""
            UPDATE public.deliveries SET status = CASE WHEN \(status) = 'sent' THEN coalesce(receipt_status, 'sent') ELSE \(status) END,
                reason = \(reason),
                provider_message_id = coalesce(\(providerMessageID), provider_message_id),
                provider_code = coalesce(\(providerCode), provider_code),
                sent_at = CASE WHEN \(status) IN ('sent', 'delivered') THEN coalesce(sent_at, now()) ELSE sent_at END,
                delivered_at = CASE WHEN \(status) = 'delivered' THEN now()
                                    WHEN \(status) = 'sent' AND receipt_status = 'delivered' THEN receipt_at
                                    ELSE delivered_at END,
                cost_micros = CASE WHEN \(status) IN ('sent', 'delivered') THEN price_micros ELSE 0 END,
                finished_at = now(), updated_at = now()
            WHERE id = \(id)
            """)
    }

    func meta(_ delivery: DeliveryRecord, _ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["delivery_id": "\(delivery.id)", "route": "\(delivery.route.rawValue)",
                                         "attempt": "\(delivery.attempts)"]
        if let id = delivery.followUpID { metadata["follow_up_id"] = "\(id)" }
        metadata.merge(extra) { $1 }
        return metadata
    }
}
