import ArgumentParser
import Fakes
import FollowUp
import Foundation
import Logging
import Outbound
import Postgres
import Providers

/// `followup bench followups`: end-to-end follow-ups per second against loopback provider fakes.
struct FollowUpsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "followups",
        abstract: "N customers offline with unseen answers → follow-ups completed per second (check → plan → text + email).",
        discussion: """
            Every provider is a loopback fake answering after --latency-ms (SMTP answers at once), so the
            figure measures how many provider calls the poller keeps in flight, and the database work
            around them (offline check, plan, deliveries, wallet hold and capture, job completion).
            Uses --database-url if given, else an embedded cluster with fsync on. Target: ≥ 500/s.
            """)
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Customers who went offline.") var customers: Int = 5_000
    @Option(help: "Companies they are spread over (each has its own SMS wallet; 1 = the single-wallet bound).") var channels: Int = 100
    @Option(help: "Jobs the poller runs at once.") var concurrency: Int = 256
    @Option(help: "Jobs claimed per round trip.") var claimBatch: Int = 50
    @Option(help: "Provider fake latency, milliseconds.") var latencyMs: Int = 50
    @Option(help: "The poller's database connections (jobs waiting on the provider hold none; on 2 cores, more backends only contend).")
    var connections: Int = 16

    func run() async throws {
        guard customers > 0, concurrency > 0, claimBatch > 0, connections > 0, latencyMs >= 0 else {
            throw ValidationError("--customers, --concurrency, --claim-batch and --connections must be positive")
        }
        try await BenchDatabase.using(database, connections: 8) { db in
            let workerPool = ConnectionPool(db.configuration, maxConnections: connections)
            let fakes = try FakeProviders()
            fakes.latency = .milliseconds(latencyMs)
            let client = OutboundClient()
            do {
                let providers = try ProviderSet(settings: try ProviderSettings(environment: fakes.environment), client: client)
                var logger = Logger(label: "bench")
                logger.logLevel = .error
                let result = try await FollowUpBenchmark.followUps(pool: db.pool, workerPool: workerPool,
                                                                   providers: FollowUpProviders(providers), customers: customers, channels: channels,
                                                                   concurrency: concurrency, claimBatch: claimBatch, logger: logger)
                print(String(format: "%d follow-ups (%d channels) in %.2f s: %.0f follow-ups/s (%d deliveries sent, %d not), %d ms provider latency, concurrency %d",
                             result.customers, result.channels, result.seconds, result.followUpsPerSecond, result.deliveriesSent,
                             result.deliveriesNotSent, latencyMs, concurrency))
                print(result.json)
            } catch {
                fakes.stop()
                client.shutdown()
                await workerPool.close()
                throw error
            }
            fakes.stop()
            client.shutdown()
            await workerPool.close()
        }
    }
}

/// `followup bench activity`: the hottest write path against a bare insert, same run.
struct ActivityBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activity",
        abstract: "INSERT INTO public.activity rows/s vs a bare table of the same columns, same run (pgbench when installed).",
        discussion: "Alternates runs (bare, activity) --rounds times. Uses --database-url if given, else an embedded cluster with fsync on. Target: activity ≥ 80% of bare.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Concurrent clients.") var clients: Int = 8
    @Option(help: "Seconds per run.") var seconds: Int = 10
    @Option(help: "Runs of each table.") var rounds: Int = 2

    func run() async throws {
        guard clients > 0, seconds > 0, rounds > 0 else { throw ValidationError("--clients, --seconds and --rounds must be positive") }
        try await BenchDatabase.using(database, connections: clients) { db in
            let url = db.cluster?.tcpURL(database: "postgres") ?? db.configuration.connectionString
            let result = try await FollowUpBenchmark.activity(databaseURL: url, pool: db.pool, clients: clients,
                                                              seconds: seconds, rounds: rounds)
            print(String(format: "activity: %.0f rows/s, bare table: %.0f rows/s → %.0f%% of bare (%@, %d clients)",
                         result.activityRowsPerSecond, result.bareRowsPerSecond, result.ratio * 100, result.tool, clients))
            print(result.json)
        }
    }
}
