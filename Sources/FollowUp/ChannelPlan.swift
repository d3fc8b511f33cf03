import Foundation
import Jobs
import Logging
import Postgres

/// The channel plan (the seed's "detailed transmission process"):
/// push integrated and a device → push first, and text + email only if no `push_receipts` row
/// arrives within the push acknowledgement timeout (or every push was rejected); otherwise text
/// and email at once, as separate deliveries with jobs of their own.
struct ChannelPlan: Sendable {
    let settings: FollowUpSettings
    let logger: Logger

    /// `followup.dispatch`: re-checks the follow-up at send time and starts its routes.
    func dispatch(_ payload: FollowUpJobs.Dispatch, _ context: JobContext) async throws -> JobResult {
        let outcome = try await context.complete { tx -> String in
            Self.commitWithoutWaitingForDisk(tx)
            guard let record = try await FollowUpRecord.lock(payload.followUpID, on: tx) else { return "unknown follow-up" }
            guard record.status == .pending else { return "already \(record.status.rawValue)" }
            if try await record.customerReturned(on: tx) {
                record.end(.cancelled, reason: "customer came back before it was sent", settings: settings, on: tx)
                return "cancelled: customer came back"
            }
            // Answers written since the offline check join this notification (several → one).
            guard let unseen = try await UnseenMessages.find(chatID: record.chatID, excludingFollowUp: record.id, on: tx) else {
                record.end(.cancelled, reason: "customer read the chat before it was sent", settings: settings, on: tx)
                return "cancelled: chat read"
            }
            tx.queue("""
                UPDATE public.follow_ups SET first_message_id = \(unseen.firstID), last_message_id = \(unseen.lastID),
                    message_count = \(unseen.count)
                WHERE id = \(record.id)
                """)
            guard var followUp = try await FollowUpContext.load(followUpID: record.id, messages: false, on: tx) else {
                return "unknown follow-up"
            }
            followUp.messages = unseen.messages
            return try await plan(record, followUp, on: tx)
        }
        logger.debug("follow-up dispatched", metadata: ["follow_up_id": "\(payload.followUpID)", "outcome": "\(outcome)"])
        return .done
    }

    /// Starts the routes of a pending follow-up whose checks just passed, in the caller's
    /// transaction (which holds the chat's lock): push first, or text and email.
    func plan(_ record: FollowUpRecord, _ followUp: FollowUpContext, on tx: Transaction) async throws -> String {
        if followUp.channel.pushIntegrated, let refused = Consent.refusal(.push, customer: followUp.customer) {
            return try await planTextAndEmail(record, followUp, because: refused, on: tx)
        }
        let devices = followUp.channel.pushIntegrated ? try await devicesOf(followUp.customer.id, on: tx) : []
        if devices.isEmpty {
            let reason = followUp.channel.pushIntegrated ? "no mobile device registered" : "mobile push not integrated"
            return try await planTextAndEmail(record, followUp, because: reason, on: tx)
        }
        return try await startPush(record, followUp, devices: devices, on: tx)
    }

    /// `followup.push_timeout`: acknowledged → done; otherwise text and email now.
    func pushTimeout(_ payload: FollowUpJobs.PushTimeout, _ context: JobContext) async throws -> JobResult {
        do {
            let outcome = try await handlePushTimeout(payload, context)
            logger.debug("push deadline handled", metadata: ["follow_up_id": "\(payload.followUpID)", "outcome": "\(outcome)"])
            return .done
        } catch let early as SnoozeUntilDeadline {
            return .snooze(.milliseconds(Int64(max(0, early.seconds) * 1000) + 1))
        }
    }

    private func handlePushTimeout(_ payload: FollowUpJobs.PushTimeout, _ context: JobContext) async throws -> String {
        try await context.complete { tx -> String in
            Self.commitWithoutWaitingForDisk(tx)
            guard let record = try await FollowUpRecord.lock(payload.followUpID, on: tx) else { return "unknown follow-up" }
            guard record.status == .awaitingPushAck else { return "already \(record.status.rawValue)" }
            if try await tx.first("SELECT 1 FROM public.push_receipts WHERE follow_up_id = \(record.id) AND status = 'accepted' LIMIT 1") != nil {
                record.end(.acknowledged, reason: "push received on the device; no text or email needed",
                           settings: settings, on: tx)
                return "acknowledged"
            }
            let remaining = try await tx.scalar("""
                SELECT extract(epoch FROM push_deadline - now())::float8 FROM public.follow_ups WHERE id = \(record.id)
                """, as: Double.self)
            if remaining > 0 {
                // Woken before the deadline without a receipt: wait for the real deadline.
                throw SnoozeUntilDeadline(seconds: remaining)
            }
            guard let followUp = try await FollowUpContext.load(followUpID: record.id, on: tx) else { return "unknown follow-up" }
            let seconds = settings.pushAckTimeout?.seconds ?? followUp.channel.pushAckTimeoutSeconds
            return try await planTextAndEmail(record, followUp,
                                              because: "push not acknowledged within \(Presence.describe(seconds: seconds))", on: tx)
        }
    }

    struct SnoozeUntilDeadline: Error { var seconds: Double }

    /// For a transaction that decides and plans but calls no provider (the offline check,
    /// dispatch, the push deadline): its commit does not wait for the disk
    /// (`synchronous_commit = off`, this transaction only). A crash that loses it loses the job's
    /// completion too, so the job runs again and decides again; and a delivery it planned can
    /// reach a provider only after the delivery's own `sending` step commits durably, which
    /// flushes the log through this commit first. One fsync fewer per follow-up.
    static func commitWithoutWaitingForDisk(_ tx: Transaction) {
        tx.queue("SET LOCAL synchronous_commit = off")
    }

    // MARK: Steps

    private func devicesOf(_ customerID: Int64, on tx: Transaction) async throws -> [(id: Int64, platform: String, token: String)] {
        try await tx.query("""
            SELECT id, platform, token FROM public.customer_devices WHERE customer_id = \(customerID)
            ORDER BY created_at DESC, id DESC LIMIT \(settings.maxPushDevices)
            """).map { (try $0.decode(Int64.self, at: 0), try $0.decode(String.self, at: 1), try $0.decode(String.self, at: 2)) }
    }

    private func startPush(_ record: FollowUpRecord, _ followUp: FollowUpContext,
                           devices: [(id: Int64, platform: String, token: String)], on tx: Transaction) async throws -> String {
        let content = PushContent(followUp)
        // Held for quiet hours only when the channel says so; the acknowledgement wait starts when it goes.
        let limits = try await PlanningLimits.load(followUp, on: tx)
        let held = limits.heldUntil(.push)
        for device in devices {
            var push = NewDelivery(route: .push, recipient: device.token, subject: content.title, body: content.body,
                                   deviceID: device.id)
            push.hold(until: held, limits)
            push.insert(for: followUp, settings: settings, on: tx)
        }
        let timeout = settings.pushAckTimeout ?? .milliseconds(Int64(followUp.channel.pushAckTimeoutSeconds * 1000))
        let deadline = try await record.awaitPushAck(heldUntil: held, timeout: timeout, on: tx)
        try await JobQueue.enqueue(FollowUpJobs.PushTimeout(followUpID: record.id),
                                   options: EnqueueOptions(queue: settings.queue, runAt: deadline,
                                                           uniqueKey: FollowUpJobs.PushTimeout.uniqueKey(record.id)),
                                   on: tx)
        return "push to \(devices.count) device(s)"
    }

    /// Text and email, each its own delivery and job, so one failing never blocks the other.
    /// Turned-off routes, missing contact data and the customer's preference are recorded as
    /// `excluded`, an opted-out recipient as `suppressed`, a route over the chat's daily cap as
    /// `capped`, each with the reason; a route
    /// inside the customer's quiet hours is queued to go when they end.
    func planTextAndEmail(_ record: FollowUpRecord, _ followUp: FollowUpContext, because: String,
                          on tx: Transaction) async throws -> String {
        let limits = try await PlanningLimits.load(followUp, on: tx)
        let suppressed = try await suppressions(followUp, on: tx)
        var planned: [FollowUpKind] = []
        var notes: [String] = []
        let plan = followUp.composeText(chatURLBase: settings.chatURLBase)
        let xmsRoute: Route = plan.route == .lms ? .lms : .sms
        if let (status, reason, note) = Self.refusal(.text, followUp, limits, off: !followUp.channel.phoneEnabled,
                                                     contact: followUp.customer.phone, suppressed: suppressed.phone) {
            NewDelivery(route: xmsRoute, status: status, reason: reason,
                        recipient: status == .suppressed ? followUp.customer.phone : nil).insert(for: followUp, settings: settings, on: tx)
            notes.append(note)
        } else {
            var text = textDelivery(followUp, plan: plan, messenger: followUp.channel.hasMessenger, replaces: nil)
            text.hold(until: limits.heldUntil(.text), limits)
            text.insert(for: followUp, settings: settings, on: tx)
            planned.append(.text)
            if text.heldUntil != nil { notes.append("text held for quiet hours") }
        }
        if let (status, reason, note) = Self.refusal(.email, followUp, limits, off: !followUp.channel.emailEnabled,
                                                     contact: followUp.customer.email, suppressed: suppressed.email) {
            NewDelivery(route: .email, status: status, reason: reason,
                        recipient: status == .suppressed ? followUp.customer.email : nil).insert(for: followUp, settings: settings, on: tx)
            notes.append(note)
        } else {
            let email = EmailContent(followUp, settings: settings)
            var delivery = NewDelivery(route: .email, recipient: followUp.customer.email, subject: email.subject, body: email.text,
                                       html: email.html)
            delivery.hold(until: limits.heldUntil(.email), limits)
            delivery.insert(for: followUp, settings: settings, on: tx)
            planned.append(.email)
            if delivery.heldUntil != nil { notes.append("email held for quiet hours") }
        }
        if planned.isEmpty {
            record.end(.cancelled, reason: "\(because); nothing to send (\(notes.joined(separator: ", ")))",
                       recheck: false, settings: settings, on: tx)
            return "nothing to send"
        }
        let sent = planned.count == 2 ? "text and email" : (planned == [.text] ? "text only" : "email only")
        let note = notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))"
        record.end(.notified, reason: "\(because); \(sent)\(note)", settings: settings, on: tx)
        return sent
    }

    /// Why the customer's phone and email are suppressed for this channel (nil: not), in one query.
    private func suppressions(_ followUp: FollowUpContext, on tx: Transaction) async throws -> (phone: String?, email: String?) {
        let phone = followUp.customer.phone
        let email = followUp.customer.email.map { Suppressions.normalized($0, kind: .email) }
        guard phone != nil || email != nil else { return (nil, nil) }
        var found: (phone: String?, email: String?) = (nil, nil)
        for row in try await tx.query("""
            SELECT address_kind, reason FROM public.suppressions
            WHERE channel_id = \(followUp.channel.id)
              AND ((address_kind = 'phone' AND address = \(phone)) OR (address_kind = 'email' AND address = \(email)))
            """) {
            if try row.decode(String.self, at: 0) == "phone" { found.phone = try row.decode(String.self, at: 1) }
            else { found.email = try row.decode(String.self, at: 1) }
        }
        return found
    }

    /// Why a text or email of this follow-up is not sent at all: (delivery status, reason, short note), or nil.
    private static func refusal(_ kind: FollowUpKind, _ followUp: FollowUpContext, _ limits: PlanningLimits,
                                off: Bool, contact: String?, suppressed: String?) -> (DeliveryStatus, String, String)? {
        let name = kind == .text ? "text" : "email"
        if off { return (.excluded, "\(name) notifications are turned off for this channel", "\(name) off") }
        if contact == nil {
            return (.excluded, kind == .text ? "customer has no phone number" : "customer has no email address", "no \(kind == .text ? "phone" : "email")")
        }
        if let why = suppressed { return (.suppressed, Suppressions.describe(why), "\(name) suppressed: \(why)") }
        if let why = Consent.refusal(kind, customer: followUp.customer) { return (.excluded, why, "\(name): customer's preference") }
        if let why = limits.capped(kind) { return (.capped, why, "\(name) capped") }
        return nil
    }

    /// The text delivery: messenger when the channel has SNS settings (and a messenger provider
    /// is configured), else SMS/LMS as planned.
    func textDelivery(_ followUp: FollowUpContext, plan: XMSPlan, messenger: Bool, replaces: Int64?) -> NewDelivery {
        if messenger {
            return NewDelivery(route: .messenger, recipient: followUp.customer.phone, body: plan.body, segments: 1,
                               country: followUp.country, replaces: replaces)
        }
        return NewDelivery(route: plan.route == .lms ? .lms : .sms, recipient: followUp.customer.phone,
                           subject: plan.subject, body: plan.body, segments: max(1, plan.segments),
                           country: followUp.country, replaces: replaces)
    }
}
