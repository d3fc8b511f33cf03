import Foundation
import Jobs
import Logging
import Providers

/// Plugs the follow-up flow into a `JobWorker` (the lead's `followup run`, the demo, the tests).
public enum FollowUpRuntime {
    /// The job kinds this module handles.
    public static let kinds = [FollowUpJobs.OfflineCheck.kind, FollowUpJobs.Dispatch.kind,
                               FollowUpJobs.Deliver.kind, FollowUpJobs.PushTimeout.kind, FollowUpJobs.MessengerResult.kind,
                               FollowUpJobs.EmailDomainKeys.kind, DomainVerification.jobKind,
                               ActivityPartitions.jobKind, Pruning.jobKind]

    /// Registers the handlers of every follow-up job kind (`followup run`).
    public static func register(in registry: inout JobRegistry, providers: ProviderSet,
                                settings: FollowUpSettings = FollowUpSettings(),
                                logger: Logger = Logger(label: "followup.followups")) {
        register(in: &registry, providers: FollowUpProviders(providers), settings: settings, logger: logger)
    }

    /// Registers the handlers of every follow-up job kind, with the providers given route by route.
    public static func register(in registry: inout JobRegistry, providers: FollowUpProviders,
                                settings: FollowUpSettings = FollowUpSettings(),
                                logger: Logger = Logger(label: "followup.followups")) {
        let plan = ChannelPlan(settings: settings, logger: logger)
        let check = OfflineCheck(settings: settings, plan: plan, logger: logger)
        let runner = DeliveryRunner(providers: providers, settings: settings, plan: plan, logger: logger)
        registry.register(FollowUpJobs.OfflineCheck.self) { payload, context in try await check.run(payload, context) }
        registry.register(FollowUpJobs.Dispatch.self) { payload, context in try await plan.dispatch(payload, context) }
        registry.register(FollowUpJobs.PushTimeout.self) { payload, context in try await plan.pushTimeout(payload, context) }
        registry.register(FollowUpJobs.Deliver.self) { payload, context in try await runner.run(payload, context) }
        let results = MessengerResults(providers: providers, settings: settings, runner: runner, logger: logger)
        registry.register(FollowUpJobs.MessengerResult.self) { payload, context in try await results.run(payload, context) }
        let domains = settings.emailDomains
        registry.register(FollowUpJobs.EmailDomainKeys.self) { payload, context in
            if try await EmailDomains.makeKey(id: payload.domainKeyID, settings: domains, on: context.database) {
                logger.info("made the DKIM key of a new sender domain", metadata: ["domain_key_id": "\(payload.domainKeyID)"])
            }
            return .done
        }
        registry.register(kind: DomainVerification.jobKind) { context in
            try await DomainVerification.run(context: context, settings: domains, logger: logger)
        }
        // Tables that stay small (docs/scale.md).
        let retention = settings.retention
        registry.register(kind: ActivityPartitions.jobKind) { context in
            try await ActivityPartitions.run(context: context, settings: retention, logger: logger)
        }
        registry.register(kind: Pruning.jobKind) { context in
            try await Pruning.run(context: context, settings: retention, logger: logger)
        }
    }

    /// The periodic jobs of the follow-up flow: checking custom sender domains in DNS; `activity`
    /// partitions made ahead and dropped after the retention; pruning what is past its retention.
    public static func schedule(_ periodic: inout [PeriodicJob], settings: FollowUpSettings = FollowUpSettings()) {
        periodic.append(PeriodicJob(name: DomainVerification.jobKind, kind: DomainVerification.jobKind,
                                    every: settings.emailDomains.verifyEvery, queue: settings.queue))
        periodic.append(PeriodicJob(name: ActivityPartitions.jobKind, kind: ActivityPartitions.jobKind,
                                    every: settings.retention.every, queue: settings.queue))
        periodic.append(PeriodicJob(name: Pruning.jobKind, kind: Pruning.jobKind,
                                    every: settings.retention.every, queue: settings.queue))
    }
}
