import ArgumentParser
import Foundation
import FollowUp
import Jobs
import Logging
import Outbound
import Providers
import Wallet

/// Every job kind and periodic job the product runs, in one place: `followup run` and the demo
/// build their workers from this.
struct ProductRuntime {
    var registry = JobRegistry()
    var periodic: [PeriodicJob] = []
    let client: OutboundClient

    /// Providers from `FOLLOWUP_*` environment variables (docs/providers.md); a missing or bad one
    /// is a clear error naming the variable, never echoing a secret.
    init(environment: [String: String] = ProcessInfo.processInfo.environment,
         followUps: FollowUpSettings = FollowUpSettings(), wallet: WalletSettings = WalletSettings(),
         logger: Logger) throws {
        let settings: ProviderSettings
        do {
            settings = try ProviderSettings(environment: environment)
        } catch let error as ProviderSettingsError {
            throw ValidationError("provider settings: \(error)")
        }
        var followUps = followUps
        do {
            followUps.emailDomains = try EmailDomainSettings(environment: environment)
        } catch let error as EmailDomainError {
            throw ValidationError("email domain settings: \(error)")
        }
        // Reply addresses, unsubscribe links and bounce addresses (FOLLOWUP_REPLY_SECRET, …).
        do {
            try followUps.readTwoWay(from: environment)
        } catch let error as FollowUpSettingsError {
            throw ValidationError("follow-up settings: \(error)")
        }
        try self.init(providers: settings, followUps: followUps, wallet: wallet, logger: logger)
    }

    /// With providers already read and checked (`followup run`: OperatorConfiguration).
    init(providers settings: ProviderSettings, followUps: FollowUpSettings = FollowUpSettings(),
         wallet: WalletSettings = WalletSettings(), logger: Logger) throws {
        client = OutboundClient()
        let providers = try ProviderSet(settings: settings, client: client)
        DiagnosticJobs.register(in: &registry)
        FollowUpRuntime.register(in: &registry, providers: providers, settings: followUps, logger: logger)
        FollowUpRuntime.schedule(&periodic, settings: followUps)
        WalletRuntime.register(in: &registry, periodic: &periodic, payments: providers.payments, settings: wallet, logger: logger)
    }
}

/// Subcommands contributed by the product modules.
enum ProductCommands {
    static let extra: [ParsableCommand.Type] = [DeliveriesCommand.self, WalletCommand.self, ChannelCommand.self,
                                               ServeCommand.self, MailInCommand.self]
}

/// Job kinds for operators and benchmarks: `followup.noop` does nothing; `followup.sleep`
/// ({"ms": n}) holds a slot for n milliseconds, to exercise shutdown and rescue.
enum DiagnosticJobs {
    struct Noop: JobPayload { static let kind = "followup.noop" }
    struct Sleep: JobPayload {
        static let kind = "followup.sleep"
        var ms: Int
    }

    static func register(in registry: inout JobRegistry) {
        registry.register(kind: Noop.kind) { _ in .done }  // no payload to decode
        registry.register(Sleep.self) { sleep, _ in
            try await Task.sleep(for: .milliseconds(sleep.ms))
            return .done
        }
    }
}
