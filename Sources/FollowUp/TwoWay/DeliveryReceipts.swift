import Foundation
import Postgres

/// Final outcomes providers report after a send: Twilio status callbacks, a bounce, a
/// messenger's late result. Applying one is order-independent and idempotent:
///
/// - only final outcomes count (`delivered`, `undelivered`, `bounced`); a provider's
///   intermediate states (`queued`, `sending`, `sent`) never change a row, so a late `sent`
///   cannot overwrite `delivered`;
/// - the first final outcome wins (`receipt_status` is set once); a retried callback finds it
///   set and changes nothing;
/// - a receipt for a delivery still `sending` (the provider called back before our process
///   recorded the send) is kept in `receipt_status`; the send applies it when it records `sent`
///   (see `DeliverySQL.finish`), so the money bookkeeping of the send is never raced;
/// - the money stays as the send left it: a text the provider accepted was charged, as the
///   provider charges us (documented in docs/webhooks.md).
public enum DeliveryReceipts {
    public enum Outcome: String, Sendable { case delivered, undelivered, bounced }

    /// What applying a receipt did.
    public enum Applied: Sendable, Equatable {
        /// The delivery's status changed (or the receipt was kept for a send still in flight).
        case recorded
        /// Nothing to do: an intermediate status, or a final receipt was already recorded.
        case unchanged
        /// No delivery with that id (or the provider message id does not match it).
        case unknownDelivery
    }

    /// The delivery id in an idempotency key (`delivery-42` → 42), as Twilio's callback URL and
    /// our Message-IDs carry it.
    public static func deliveryID(fromKey key: String) -> Int64? {
        guard key.hasPrefix("delivery-") else { return nil }
        return Int64(key.dropFirst("delivery-".count))
    }

    /// Applies a final outcome to delivery `deliveryID`, in one statement (one transaction).
    /// - Parameters:
    ///   - providerMessageID: when given, it must match the delivery's (or the delivery has none
    ///     recorded yet: the send was interrupted), else the receipt is refused as unknown.
    ///   - reason: the log's words, e.g. "the carrier could not deliver it (Twilio: failed)".
    public static func apply(deliveryID: Int64, providerMessageID: String?, outcome: Outcome, reason: String?,
                             providerCode: String?, routes: [String], on db: some Queryable) async throws -> Applied {
        let rows = try await db.query(DeliverySQL.applyReceipt(deliveryID: deliveryID, providerMessageID: providerMessageID, outcome: outcome,
                                                               reason: reason, providerCode: providerCode, routes: routes))
        guard let row = rows.first, try row.decode("matched", as: Int.self) > 0 else { return .unknownDelivery }
        return try row.decode("changed", as: Int.self) > 0 ? .recorded : .unchanged
    }
}
