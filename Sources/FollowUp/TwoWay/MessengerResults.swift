import Foundation
import Jobs
import Logging
import Postgres
import Providers

/// `followup.messenger_result`: a messenger (AlimTalk-style) text is judged by its real result,
/// not by the send call's answer. The gateway accepts a message and relays it to the messenger
/// later; the result (delivered, or blocked / not a user / failed) arrives after.
///
/// After a messenger send is recorded `sent`, this job asks the gateway (`lookup` by the
/// delivery's request key) after `messengerResultDelay`, then every `messengerResultInterval`:
/// - delivered → the delivery becomes `delivered`;
/// - failed late → the delivery becomes `undelivered` (with the gateway's code) and the same
///   text goes by SMS/LMS, recorded as replacing it — in the job's fenced completion, so exactly
///   one SMS is planned (the unique delivery per follow-up and route guards it too);
/// - still pending after `messengerResultTimeout` since it was sent → it stays `sent`.
///
/// The messenger's charge stays as captured when the gateway accepted it.
struct MessengerResults: Sendable {
    let providers: FollowUpProviders
    let settings: FollowUpSettings
    let runner: DeliveryRunner
    let logger: Logger

    /// Schedules the first result check of a messenger delivery just recorded `sent` (in that transaction).
    static func follow(_ delivery: DeliveryRecord, settings: FollowUpSettings, on tx: Transaction) async throws {
        guard delivery.route == .messenger else { return }
        try await JobQueue.enqueue(FollowUpJobs.MessengerResult(deliveryID: delivery.id),
                                   options: EnqueueOptions(queue: settings.queue, delay: settings.messengerResultDelay,
                                                           maxAttempts: settings.deliveryAttempts + 4,
                                                           uniqueKey: FollowUpJobs.MessengerResult.uniqueKey(delivery.id)),
                                   on: tx)
    }

    func run(_ payload: FollowUpJobs.MessengerResult, _ context: JobContext) async throws -> JobResult {
        guard let provider = providers.messenger,
              let (delivery, followUp) = try await DeliveryRecord.loadForSending(payload.deliveryID, on: context.database),
              delivery.route == .messenger, delivery.status == .sent else {
            return .done  // gone, not a messenger text, or already final (a receipt, an operator)
        }
        let found = try await provider.lookup(idempotencyKey: delivery.idempotencyKey)
        switch found?.status {
        case .delivered?:
            _ = try await context.complete { tx in
                try await DeliveryReceipts.apply(deliveryID: delivery.id, providerMessageID: nil, outcome: .delivered, reason: nil,
                                                 providerCode: nil, routes: ["messenger"], on: tx)
            }
            return .done
        case .failed?:
            guard let followUp else { return .done }
            let code = found?.providerCode
            let reason = "the messenger reported it failed after accepting it\(code.map { " (code \($0))" } ?? ""); sent by SMS instead"
            try await context.complete { tx in
                let applied = try await DeliveryReceipts.apply(deliveryID: delivery.id, providerMessageID: nil, outcome: .undelivered,
                                                               reason: reason, providerCode: code, routes: ["messenger"], on: tx)
                // Only the run that recorded the failure plans the SMS: exactly one replacement.
                if applied == .recorded {
                    try await runner.afterFailure(delivery, followUp, reason: reason, on: tx)
                }
            }
            logger.info("messenger failed late; SMS instead", metadata: ["delivery_id": "\(delivery.id)"])
            return .done
        case .accepted?, nil:
            let age = try await context.database.scalar("""
                SELECT extract(epoch FROM now() - coalesce(sent_at, created_at))::float8 FROM public.deliveries WHERE id = \(delivery.id)
                """, as: Double.self)
            if age >= Double(settings.messengerResultTimeout.components.seconds) {
                logger.info("messenger result still pending; left as sent", metadata: ["delivery_id": "\(delivery.id)"])
                return .done
            }
            return .snooze(settings.messengerResultInterval)
        }
    }
}
