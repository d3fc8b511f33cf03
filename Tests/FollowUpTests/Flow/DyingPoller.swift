import Foundation
@testable import FollowUp
import Jobs
import Logging

extension FollowUpHarness {
    /// Starts a poller that runs every follow-up job as `followup run` does, except a delivery's
    /// first attempt: `firstAttempt` runs, and then the poller "dies" — it never records an
    /// outcome and never heartbeats, so its 1 s lease runs out and another poller rescues the job.
    /// It has one slot, which that first attempt keeps: it cannot claim the rescued attempt itself
    /// (and lose that one's lease too, under load).
    func startDyingPoller(firstAttempt: @escaping @Sendable (DeliveryRunner, FollowUpJobs.Deliver, JobContext) async throws -> Void) {
        let logger = Logger(label: "test.crash")
        let plan = ChannelPlan(settings: settings, logger: logger)
        let runner = DeliveryRunner(providers: providers, settings: settings, plan: plan, logger: logger)
        let check = OfflineCheck(settings: settings, plan: plan, logger: logger)
        var crashing = JobRegistry()
        crashing.register(FollowUpJobs.OfflineCheck.self) { try await check.run($0, $1) }
        crashing.register(FollowUpJobs.Dispatch.self) { try await plan.dispatch($0, $1) }
        crashing.register(FollowUpJobs.PushTimeout.self) { try await plan.pushTimeout($0, $1) }
        crashing.register(FollowUpJobs.Deliver.self) { payload, context in
            guard context.job.attempt == 1 else { return try await runner.run(payload, context) }
            try await firstAttempt(runner, payload, context)
            try await Task.sleep(for: .seconds(3600))
            return .done
        }
        var dying = FollowUpHarness.workerConfiguration()
        dying.queues = [.init(settings.queue, concurrency: 1)]
        dying.lease = .seconds(1)
        dying.heartbeatInterval = .seconds(3600)
        dying.rescueInterval = .seconds(3600)
        dying.shutdownGrace = .milliseconds(100)
        startWorker(configuration: dying, registry: crashing)
    }
}
