import FollowUp
import Foundation
import Jobs
import Logging
import Outbound
import Postgres
import Providers
import ServiceLifecycle
import Wallet

// `ChaosPoller DATABASE_URL`: the follow-up poller exactly as `followup run` builds it (the same
// handlers, from `FOLLOWUP_*` provider variables), with the test timings of
// `FollowUpSettings.fast()` and a 3-second lease, so the chaos test (Tests/CLITests/ChaosTests)
// can SIGKILL it at random and see its work rescued within seconds, not minutes. The failover
// test runs it too, with a multi-host URL.

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .notice
    return handler
}
let logger = Logger(label: "chaos-poller")
guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: ChaosPoller DATABASE_URL\n".utf8))
    exit(64)
}
let pool = ConnectionPool(try PostgresConfiguration(CommandLine.arguments[1]), maxConnections: 12)
let client = OutboundClient()
let providers = try ProviderSet(settings: try ProviderSettings(environment: ProcessInfo.processInfo.environment), client: client)

var settings = FollowUpSettings.fast()
settings.retryWindow = .seconds(60)
settings.lookupGrace = .seconds(3)  // longer than any stall of a loaded test machine
settings.lookupWindow = .seconds(60)
settings.retryAfterCap = .seconds(2)

var registry = JobRegistry()
var periodic: [PeriodicJob] = []
FollowUpRuntime.register(in: &registry, providers: providers, settings: settings, logger: logger)
WalletRuntime.register(in: &registry, periodic: &periodic, payments: providers.payments, settings: WalletSettings(), logger: logger)

var configuration = WorkerConfiguration()
configuration.queues = [.init("default", concurrency: 8)]
// The failover test (Tests/CLITests/FailoverTests) asks for a lease that outlasts a failover.
configuration.lease = .seconds(Int(ProcessInfo.processInfo.environment["CHAOS_POLLER_LEASE_SECONDS"] ?? "") ?? 3)
configuration.heartbeatInterval = .milliseconds(500)
configuration.rescueInterval = .milliseconds(500)
configuration.safetyPoll = .milliseconds(500)
configuration.backoff = Backoff(base: .milliseconds(100), maximum: .seconds(1))
configuration.shutdownGrace = .seconds(2)

let worker = JobWorker(pool: pool, registry: registry, periodic: periodic, configuration: configuration, logger: logger)
let group = ServiceGroup(configuration: .init(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
await pool.close()
