import Postgres

/// Every statement that moves a delivery from one status to another, in one place (as `QueueSQL`
/// holds the queue's): the `deliveries` state machine reads top to bottom here. Creating a
/// delivery is `NewDelivery.insert` and reading one `DeliveryRecord.loadForSending`
/// (DeliveryRecord.swift). All values are bound; statuses written as constants are SQL the
/// planner sees, the ones chosen in Swift are bound `DeliveryStatus` values.
enum DeliverySQL {
    /// queued → sending: an attempt begins. The price is held (by the caller, in the same
    /// transaction) and, for email, who it is from is recorded with the attempt.
    static func markSending(_ id: Int64, priceMicros: Int64, sender: EmailSender?) -> Query {
        """
        UPDATE public.deliveries SET status = 'sending', sending_at = coalesce(sending_at, now()), attempts = attempts + 1,
            price_micros = \(priceMicros), reason = NULL, updated_at = now(),
            from_domain = \(sender?.fromDomain), dkim_selector = \(sender?.key?.selector), sender_note = \(sender?.note)
        WHERE id = \(id)
        """
    }

    /// sending → queued: the provider refused it for now, or never answered and the attempt is
    /// sent again with the same id. `givingAttemptBack`: a rate-limited answer does not use up an
    /// attempt.
    static func retryLater(_ id: Int64, reason: String, providerCode: String?, givingAttemptBack: Bool = false) -> Query {
        """
        UPDATE public.deliveries SET status = 'queued', reason = \(reason),
            provider_code = \(providerCode), attempts = attempts - \(givingAttemptBack ? 1 : 0), updated_at = now()
        WHERE id = \(id)
        """
    }

    /// sending, still: no answer was heard and the provider will be asked what became of it.
    static func lookingUp(_ id: Int64, reason: String, providerCode: String?) -> Query {
        """
        UPDATE public.deliveries SET reason = \(reason), provider_code = \(providerCode), updated_at = now()
        WHERE id = \(id) AND status = 'sending'
        """
    }

    /// sending → queued: an interrupted attempt the provider never got, sent again at once.
    static func requeueInterrupted(_ id: Int64) -> Query {
        "UPDATE public.deliveries SET status = 'queued', updated_at = now() WHERE id = \(id) AND status = 'sending'"
    }

    /// → a final status (sent, delivered, failed, excluded, suppressed, unknown). A `sent` meets
    /// a receipt the provider already reported while the send was in flight (`DeliveryReceipts`):
    /// the receipt's status wins. Only what went out costs anything.
    static func finish(_ id: Int64, _ status: DeliveryStatus, reason: String?, providerMessageID: String?,
                       providerCode: String?) -> Query {
        """
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
        """
    }

    /// sent/unknown → the receipt's outcome (delivered, undelivered, bounced); a receipt that
    /// arrives while the attempt is still `sending` is kept aside (`receipt_status`) for `finish`.
    /// One row: (deliveries matched, deliveries changed). `providerMessageID`, when given, must
    /// match the delivery's (or the delivery has none recorded yet: the send was interrupted).
    static func applyReceipt(deliveryID: Int64, providerMessageID: String?, outcome: DeliveryReceipts.Outcome, reason: String?,
                             providerCode: String?, routes: [String]) -> Query {
        """
        WITH target AS (
            SELECT id, status, receipt_status FROM public.deliveries
            WHERE id = \(deliveryID) AND route = ANY(\(routes)::text[])
              AND (\(providerMessageID)::text IS NULL OR provider_message_id IS NULL OR provider_message_id = \(providerMessageID))
            FOR UPDATE
        ), changed AS (
            UPDATE public.deliveries d SET
                receipt_status = \(outcome.rawValue), receipt_at = now(),
                provider_message_id = coalesce(d.provider_message_id, \(providerMessageID)),
                provider_code = coalesce(\(providerCode), d.provider_code),
                status = CASE WHEN d.status IN ('sent', 'unknown') THEN \(outcome.rawValue) ELSE d.status END,
                reason = CASE WHEN d.status IN ('sent', 'unknown') THEN \(reason) ELSE d.reason END,
                delivered_at = CASE WHEN d.status IN ('sent', 'unknown') AND \(outcome.rawValue) = 'delivered'
                                    THEN now() ELSE d.delivered_at END,
                updated_at = now()
            FROM target t
            WHERE d.id = t.id AND t.receipt_status IS NULL AND t.status IN ('sending', 'sent', 'unknown')
            RETURNING d.id
        )
        SELECT (SELECT count(*) FROM target)::int AS matched, (SELECT count(*) FROM changed)::int AS changed
        """
    }
}
