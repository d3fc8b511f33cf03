import Foundation
import Jobs
import Postgres
import Wallet

/// Routes of the delivery log.
enum Route: String, Sendable {
    case push, messenger, sms, lms, email

    var isText: Bool { self == .messenger || self == .sms || self == .lms }

    /// Whether the provider can be asked what became of an attempt whose answer was never heard
    /// (messenger, SMS/LMS). Push and email cannot: they are resent with the same collapse id /
    /// Message-ID instead.
    var canBeLookedUp: Bool { isText }
}

/// One row of `deliveries`.
struct DeliveryRecord: Sendable {
    var id: Int64
    var followUpID: Int64?
    var channelID: Int64
    var chatID: Int64?
    var route: Route
    var status: DeliveryStatus
    var reason: String?
    var deviceID: Int64?
    var platform: String?
    var recipient: String?
    var subject: String?
    var body: String?
    var segments: Int
    var country: String?
    var priceMicros: Int64
    var attempts: Int
    /// Email only: the HTML part composed when planned.
    var html: String?
    /// What the price list charges for it now (nil: no price for its route and country).
    var listPriceMicros: Int64?
    /// Push only: the token the push carries, which its receipt must quote.
    var receiptToken: String?
    /// Email only: who it is from and the key that signs it, decided when marked `sending`.
    var emailSender: EmailSender? = nil
    /// Database time since its first attempt began (nil: never attempted), as of `loadedAt`.
    var secondsSinceFirstAttempt: Double?
    /// Database time since its row last changed (an attempt began, or its answer was recorded), as of `loadedAt`.
    var secondsSinceLastChange: Double = 0
    var loadedAt = ContinuousClock.now

    /// How long since its first attempt began (zero before any): the retry window runs from here.
    var sinceFirstAttempt: Duration {
        guard let seconds = secondsSinceFirstAttempt else { return .zero }
        return .milliseconds(Int64(seconds * 1000)) + (ContinuousClock.now - loadedAt)
    }

    /// How long since the interrupted attempt (or its unheard answer): lookup grace and window run from here.
    var sinceLastAttempt: Duration {
        .milliseconds(Int64(secondsSinceLastChange * 1000)) + (ContinuousClock.now - loadedAt)
    }
    /// Why its recipient must not be contacted by this channel (`suppressions`), if so.
    var suppressedBecause: String?

    /// The idempotency key providers dedupe on: one per delivery, stable across retries and crashes.
    var idempotencyKey: String { "delivery-\(id)" }

    var isFinished: Bool { status.isFinished }

    /// The delivery and its follow-up's context (without messages; nil when it has no follow-up
    /// or the follow-up is gone), in one query.
    static func loadForSending(_ id: Int64, on db: some Queryable) async throws -> (DeliveryRecord, FollowUpContext?)? {
        guard let row = try await db.first("""
            SELECT d.id, d.follow_up_id, d.channel_id, d.chat_id, d.route, d.status, d.reason, d.device_id, cd.platform,
                   d.recipient, d.subject, d.body, d.segments, d.country, d.price_micros, d.attempts, d.html,
                   list.price_micros AS list_price_micros, d.receipt_token,
                   extract(epoch FROM now() - d.sending_at)::float8 AS seconds_since_first_attempt,
                   extract(epoch FROM now() - d.updated_at)::float8 AS seconds_since_last_change,
                   (SELECT s.reason FROM public.suppressions s
                    WHERE s.channel_id = d.channel_id AND d.route <> 'push'
                      AND s.address_kind = CASE WHEN d.route = 'email' THEN 'email' ELSE 'phone' END
                      AND s.address = CASE WHEN d.route = 'email' THEN lower(d.recipient) ELSE d.recipient END) AS suppressed_because,
                   \(FollowUpContext.columns)
            FROM public.deliveries d
            LEFT JOIN public.customer_devices cd ON cd.id = d.device_id
            \(Wallet.priceJoin("list", route: "d.route", country: "coalesce(d.country, '*')", units: "greatest(d.segments, 1)"))
            LEFT JOIN (\(FollowUpContext.tables)) ON f.id = d.follow_up_id
            WHERE d.id = \(id)
            """) else { return nil }
        guard let route = Route(rawValue: try row.decode("route", as: String.self)) else {
            throw PermanentJobError("delivery \(id) has an unknown route")
        }
        let delivery = DeliveryRecord(
            id: try row.decode("id"), followUpID: try row.decode("follow_up_id"),
            channelID: try row.decode("channel_id"), chatID: try row.decode("chat_id"), route: route,
            status: try row.decode("status"), reason: try row.decode("reason"),
            deviceID: try row.decode("device_id"), platform: try row.decode("platform"),
            recipient: try row.decode("recipient"), subject: try row.decode("subject"),
            body: try row.decode("body"), segments: try row.decode("segments"),
            country: try row.decode("country"), priceMicros: try row.decode("price_micros"),
            attempts: try row.decode("attempts"), html: try row.decode("html"),
            listPriceMicros: try row.decode("list_price_micros"), receiptToken: try row.decode("receipt_token"),
            secondsSinceFirstAttempt: try row.decode("seconds_since_first_attempt"),
            secondsSinceLastChange: max(0, try row.decode("seconds_since_last_change", as: Double.self)),
            suppressedBecause: try row.decode("suppressed_because"))
        return (delivery, try FollowUpContext.decode(row))
    }
}

/// A delivery to create for a follow-up.
struct NewDelivery: Sendable {
    /// The delivery job's own attempts, for errors its handler does not handle itself (the
    /// database unreachable, a crash): provider failures are retried by snoozing, within
    /// `FollowUpSettings.retryWindow`, and do not use these up.
    static let jobAttempts = 25

    var route: Route
    var status = DeliveryStatus.queued
    var reason: String?
    var recipient: String?
    var subject: String?
    var body: String?
    var segments = 0
    var country: String?
    var deviceID: Int64?
    var replaces: Int64?
    var html: String?
    /// Queued, but its job runs only then (quiet hours); the reason says so.
    var heldUntil: Date?

    /// Holds it until `until` (nil: it goes now), saying so in its reason.
    mutating func hold(until: Date?, _ limits: PlanningLimits) {
        guard let until else { return }
        heldUntil = until
        reason = limits.heldReason
    }

    /// Inserts it (once per follow-up, route and device: a repeated planning step is a no-op)
    /// and, when queued, its delivery job, in one statement queued in the transaction (it travels
    /// with the next statement or the COMMIT).
    func insert(for context: FollowUpContext, settings: FollowUpSettings, on tx: Transaction) {
        tx.queue("""
            WITH d AS (
                INSERT INTO public.deliveries (follow_up_id, channel_id, chat_id, customer_id, route, status, reason, recipient,
                                        subject, body, html, segments, country, device_id, replaces, finished_at,
                                        receipt_token, held_until)
                VALUES (\(context.followUpID), \(context.channel.id), \(context.chatID), \(context.customer.id), \(route.rawValue),
                        \(status), \(reason), \(recipient), \(subject), \(body), \(html), \(segments), \(country), \(deviceID), \(replaces),
                        CASE WHEN \(status) IN ('excluded', 'failed', 'suppressed', 'capped') THEN now() END,
                        CASE WHEN \(route.rawValue) = 'push' THEN gen_random_uuid()::text END, \(heldUntil)::timestamptz)
                ON CONFLICT (follow_up_id, route, coalesce(device_id, 0), channel_id) WHERE follow_up_id IS NOT NULL DO NOTHING
                RETURNING id, status, held_until
            )
            SELECT d.id, CASE WHEN d.status = 'queued'
                THEN public.jobs_enqueue(\(FollowUpJobs.Deliver.kind), jsonb_build_object('delivery_id', d.id), \(settings.queue),
                                  greatest(now(), d.held_until), 2::smallint, \(Self.jobAttempts)) END
            FROM d
            """)
    }
}
