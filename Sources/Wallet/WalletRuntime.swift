import Jobs
import Logging
import Providers

/// Wires the wallet's jobs into a poller.
public enum WalletRuntime {
    /// Registers the top-up handler and the monthly-credit handler, and adds the monthly-credit
    /// schedule to `periodic`. `payments`: nil leaves top-ups failing with "no payment provider
    /// is configured" (recorded, not retried).
    public static func register(in registry: inout JobRegistry, periodic: inout [PeriodicJob],
                                payments: PaymentProvider?, settings: WalletSettings, logger: Logger) {
        registry.register(TopUpJob.Payload.self) { payload, context in
            try await TopUpJob.run(payload, context: context, payments: payments, settings: settings, logger: logger)
        }
        registry.register(kind: MonthlyCreditJob.kind) { context in
            try await MonthlyCreditJob.run(context: context, settings: settings, logger: logger)
        }
        periodic.append(PeriodicJob(name: "wallet.monthly_credit", kind: MonthlyCreditJob.kind, every: settings.monthlyCreditCheck))
    }
}
