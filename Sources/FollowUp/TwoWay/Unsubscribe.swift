import Foundation
import Postgres

/// The email unsubscribe (RFC 8058 one-click `POST /unsubscribe/<token>`, or mail to the
/// `List-Unsubscribe` mailto: address): suppresses the address a follow-up email went to, for
/// the channel that sent it. Idempotent.
public enum Unsubscribe {
    /// Suppresses the recipient of email delivery `deliveryID`. Returns the channel, or nil when
    /// there is no such email delivery (nothing written).
    @discardableResult
    public static func apply(deliveryID: Int64, how: String, on db: some Queryable) async throws -> Int64? {
        try await db.first("""
            INSERT INTO public.suppressions (channel_id, address_kind, address, reason)
            SELECT d.channel_id, 'email', lower(d.recipient), \(how)
            FROM public.deliveries d
            WHERE d.id = \(deliveryID) AND d.route = 'email' AND d.recipient IS NOT NULL
            ON CONFLICT (channel_id, address_kind, address) DO UPDATE SET reason = public.suppressions.reason
            RETURNING channel_id
            """).map { try $0.decode(Int64.self, at: 0) }
    }
}
