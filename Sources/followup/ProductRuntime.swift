import ArgumentParser
import Foundation
import Jobs
import Logging

/// Every job kind and periodic job the product runs, in one place.
struct ProductRuntime {
    var registry = JobRegistry()
    var periodic: [PeriodicJob] = []

    init(logger: Logger) throws {
        DiagnosticJobs.register(in: &registry)
        // Product handlers (follow-ups, wallet) register here.
    }
}

/// Subcommands contributed by the product modules (deliveries, wallet).
enum ProductCommands {
    static let extra: [ParsableCommand.Type] = []
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
        registry.register(Noop.self) { _, _ in .done }
        registry.register(Sleep.self) { sleep, _ in
            try await Task.sleep(for: .milliseconds(sleep.ms))
            return .done
        }
    }
}
