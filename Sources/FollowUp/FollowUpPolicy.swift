import Foundation
import Postgres

/// What a follow-up may carry, as the customer sees it.
enum FollowUpKind: String, Sendable {
    case push, text, email
}

/// The customer's own wishes: the one place they are checked, when a follow-up is planned and
/// again just before each delivery is sent (a preference set meanwhile still counts).
enum Consent {
    /// Why `customer` must not get a follow-up of `kind`, or nil when they may.
    ///
    /// `customers.follow_up` (set by the app): `all`; `email_only` / `text_only` choose between
    /// text and email; `none` stops every follow-up, push included. Push otherwise follows the
    /// device's own notification permission. Opt-outs from replies (STOP, unsubscribe) belong
    /// here too: load them with the customer (`FollowUpContext.columns`) and refuse here, so
    /// planning and sending both honour them.
    static func refusal(_ kind: FollowUpKind, customer: FollowUpContext.Customer) -> String? {
        switch (customer.followUp, kind) {
        case ("none", _): return "the customer turned follow-ups off (follow_up = none)"
        case ("email_only", .text): return "the customer asked for email only (follow_up = email_only)"
        case ("text_only", .email): return "the customer asked for texts only (follow_up = text_only)"
        default: return nil
        }
    }
}

/// The channel's limits as they stand for one follow-up being planned: the per-chat daily caps
/// and the quiet hours in the customer's time zone. Read in one statement, under the chat lock.
struct PlanningLimits: Sendable {
    /// The customer's zone: `customers.time_zone`, else their phone's country's (one zone only),
    /// else the channel's `time_zone`.
    var timeZone: String
    /// When the quiet hours end, if it is inside them now; nil otherwise (or quiet hours off).
    var quietUntil: Date?
    /// `quietUntil` as local wall-clock time, "2026-11-30 08:00".
    var quietUntilLocal: String?
    var holdEmail: Bool
    var holdPush: Bool
    var maxTexts: Int?
    var maxEmails: Int?
    /// Texts / emails of this chat in the last 24 hours that went out or are on their way.
    var textsToday: Int
    var emailsToday: Int

    /// Until when a delivery of `kind` waits, or nil: it goes now.
    func heldUntil(_ kind: FollowUpKind) -> Date? {
        switch kind {
        case .text: return quietUntil
        case .email: return holdEmail ? quietUntil : nil
        case .push: return holdPush ? quietUntil : nil
        }
    }

    /// The reason a delivery held for quiet hours shows in `delivery_report`.
    var heldReason: String {
        "held for quiet hours until \(quietUntilLocal ?? "their end") \(timeZone)"
    }

    /// Why a delivery of `kind` is over the cap, or nil.
    func capped(_ kind: FollowUpKind) -> String? {
        switch kind {
        case .text:
            guard let max = maxTexts, textsToday >= max else { return nil }
            return "cap reached: \(max) text\(max == 1 ? "" : "s") per chat per 24 hours"
        case .email:
            guard let max = maxEmails, emailsToday >= max else { return nil }
            return "cap reached: \(max) email\(max == 1 ? "" : "s") per chat per 24 hours"
        case .push:
            return nil
        }
    }

    /// A delivery counts towards the cap once it is planned to go (queued, held, sending) or went
    /// (sent, delivered, unknown); failed, excluded and capped ones do not. A messenger text that
    /// failed and the SMS that replaced it count once (only the SMS counts).
    static func load(_ followUp: FollowUpContext, on db: some Queryable) async throws -> PlanningLimits {
        guard let row = try await db.first("""
            SELECT z.tz, q.until, to_char(q.until AT TIME ZONE z.tz, 'YYYY-MM-DD HH24:MI') AS until_local,
                   ch.quiet_hours_hold_email, ch.quiet_hours_hold_push, ch.max_texts_per_chat_per_day, ch.max_emails_per_chat_per_day,
                   n.texts, n.emails
            FROM public.channels ch
            JOIN public.customers cu ON cu.id = \(followUp.customer.id)
            -- Quiet hours off (the default): no zone to work out and no window to test. The policy's SQL
            -- functions are not inlined (they pin search_path), so each call is planned again; on the
            -- follow-ups benchmark they were ~1/5 of Postgres' time (README "Benchmarks"). Same answer:
            -- followup_quiet_hours_end is NULL whenever quiet hours are off, and the zone only names it.
            CROSS JOIN LATERAL (SELECT ch.quiet_hours_start IS NOT NULL AND ch.quiet_hours_end IS NOT NULL
                                       AND ch.quiet_hours_start <> ch.quiet_hours_end AS quiet) o
            CROSS JOIN LATERAL (SELECT CASE WHEN o.quiet THEN public.followup_time_zone(cu.time_zone, cu.phone, ch.time_zone)
                                            ELSE coalesce(cu.time_zone, ch.time_zone, 'UTC') END AS tz) z
            CROSS JOIN LATERAL (SELECT CASE WHEN o.quiet
                                            THEN public.followup_quiet_hours_end(now(), z.tz, ch.quiet_hours_start, ch.quiet_hours_end) END AS until) q
            CROSS JOIN LATERAL (
                SELECT (count(*) FILTER (WHERE d.route <> 'email'))::int AS texts, (count(*) FILTER (WHERE d.route = 'email'))::int AS emails
                FROM public.follow_ups f JOIN public.deliveries d ON d.follow_up_id = f.id
                WHERE f.chat_id = \(followUp.chatID) AND f.created_at > now() - interval '2 days'
                  AND d.created_at > now() - interval '1 day' AND d.route <> 'push'
                  AND d.status IN ('queued', 'sending', 'sent', 'delivered', 'unknown')) n
            WHERE ch.id = \(followUp.channel.id)
            """) else {
            throw PostgresError(code: .invalidConfiguration, message: "channel \(followUp.channel.id) or its customer is gone")
        }
        return PlanningLimits(
            timeZone: try row.decode("tz"), quietUntil: try row.decode("until"),
            quietUntilLocal: try row.decode("until_local"), holdEmail: try row.decode("quiet_hours_hold_email"),
            holdPush: try row.decode("quiet_hours_hold_push"), maxTexts: try row.decode("max_texts_per_chat_per_day"),
            maxEmails: try row.decode("max_emails_per_chat_per_day"), textsToday: try row.decode("texts"),
            emailsToday: try row.decode("emails"))
    }
}
