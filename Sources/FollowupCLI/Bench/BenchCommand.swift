import ArgumentParser
import Fakes
import FollowUp
import Foundation
import Logging
import Outbound
import Postgres
import Providers

/// `followup bench …`: every benchmark's command line, in one place (their code is in this folder:
/// Sources/FollowupCLI/Bench/). Benchmarks print figures (one JSON object as the last line); they
/// are not tests. The scripts that compare with other systems are in benchmarks/.

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: they print figures (one JSON object as the last line); they are not tests.",
        subcommands: [Queue.self, FollowUpsBench.self, ActivityBench.self, ActivityGrowthBench.self, WalletBench.self, WebhooksBench.self])

    struct Queue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The job queue: drain throughput, sustained rate, idle enqueue→start latency, near-future lateness.",
            discussion: """
                drain:     load --jobs no-op jobs, drain them with --workers workers claiming --batch at a time.
                           --backlog 50000,300000,1000000 drains each backlog in turn (one JSON line each, then a summary).
                sustained: jobs arrive at a fixed rate while the poller drains them, finished jobs kept as production keeps
                           them. First a step search (--start-rate, up by --rate-step every --step-seconds) for the highest
                           rate whose enqueue→start p99 stays under 1 s, then that rate (or --rate, skipping the search)
                           held for --minutes: start rate and p99 in its first and last 10%.
                idle:      an idle poller; jobs enqueued one by one; enqueue→start latency (the NOTIFY path).
                lateness:  --scheduled-later jobs due in an hour, then jobs due in 100–300 ms; how late they start.
                Uses --database-url if given (a scratch database: it truncates jobs), else an embedded cluster with fsync on.
                For the side-by-side comparison with pgbench and PgQueuer, see benchmarks/compare_queue.sh.
                """)
        @OptionGroup var database: DatabaseOptions
        @Option(help: "drain, sustained, idle or lateness.") var mode: String = "drain"
        @Option(help: "Jobs to drain.") var jobs: Int = 50_000
        @Option(help: "Backlogs to drain one after another, comma-separated (drain mode; overrides --jobs).") var backlog: String?
        @Option(help: "Concurrent workers (the queue's concurrency).") var workers: Int = 16
        @Option(help: "Jobs claimed per round trip.") var batch: Int = 10
        @Option(help: "Jobs scheduled later, for --mode lateness.") var scheduledLater: Int = 1_000_000
        @Option(help: "Jobs measured in idle and lateness modes.") var samples: Int = 200
        @Option(help: "sustained: hold this rate (jobs/s) and skip the search.") var rate: Int?
        @Option(help: "sustained: the search's first rate, jobs/s.") var startRate: Int = 1_000
        @Option(help: "sustained: the search's increase per step, jobs/s.") var rateStep: Int = 1_000
        @Option(help: "sustained: the search stops here, jobs/s.") var maxRate: Int = 50_000
        @Option(help: "sustained: seconds per search step.") var stepSeconds: Int = 20
        @Option(help: "sustained: minutes to hold the rate (fractions allowed; at least 10 s).") var minutes: Double = 10

        func run() async throws {
            guard let mode = QueueBenchmark.Mode(rawValue: mode) else {
                throw ValidationError("--mode must be one of \(QueueBenchmark.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard jobs > 0, workers > 0, batch > 0, samples > 0, scheduledLater >= 0 else {
                throw ValidationError("--jobs, --workers, --batch and --samples must be positive")
            }
            guard startRate > 0, rateStep > 0, maxRate >= startRate, stepSeconds >= 2, minutes > 0, (rate ?? 1) > 0 else {
                throw ValidationError("--start-rate, --rate-step and --rate must be positive, --max-rate ≥ --start-rate, --step-seconds ≥ 2, --minutes > 0")
            }
            let backlogs = try backlog.map(Self.parseBacklogs) ?? [jobs]
            let sustained = QueueSustained.Settings(workers: workers, batch: batch, rate: rate, startRate: startRate, rateStep: rateStep,
                                                    maxRate: maxRate, stepSeconds: stepSeconds, minutes: minutes)
            try await BenchDatabase.using(database, connections: 8) { db in
                switch mode {
                case .sustained:
                    print(try await QueueSustained.run(settings: sustained, database: db))
                case .drain where backlogs.count > 1:
                    var rates: [(String, Any)] = []
                    for n in backlogs {
                        let line = try await QueueBenchmark.run(.drain, settings: settings(jobs: n), database: db)
                        print(line)
                        rates.append(("jobs_per_second_\(n)", QueueBenchmark.jobsPerSecond(in: line)))
                    }
                    let first = rates.first.map { $0.1 as? Double ?? 0 } ?? 0, last = rates.last.map { $0.1 as? Double ?? 0 } ?? 0
                    print(jsonLine([("mode", "drain_backlogs"), ("workers", workers), ("claim_batch", batch)] + rates
                                   + [("largest_over_smallest", last / max(first, 1e-9))]))
                default:
                    print(try await QueueBenchmark.run(mode, settings: settings(jobs: backlogs[0]), database: db))
                }
            }
        }

        func settings(jobs: Int) -> QueueBenchmark.Settings {
            .init(jobs: jobs, workers: workers, batch: batch, scheduledLater: scheduledLater, samples: samples)
        }

        static func parseBacklogs(_ text: String) throws -> [Int] {
            let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--backlog: '\(text)' is not a comma-separated list of positive job counts")
            }
            return values.map { $0! }
        }
    }
}

struct WalletBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wallet",
        abstract: "Charges per second (hold + capture, ledger checks on) on one hot wallet and across many, beside a bare INSERT rate.",
        discussion: "Ledger rows cannot be deleted: run it on the embedded cluster (the default) or a scratch database.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Charges per scenario.") var charges: Int = 5_000
    @Option(help: "Wallets in the spread-out scenario.") var wallets: Int = 1_000
    @Option(help: "Concurrent chargers.") var concurrency: Int = 8

    func run() async throws {
        guard charges > 0, wallets > 0, concurrency > 0 else { throw ValidationError("--charges, --wallets and --concurrency must be positive") }
        let report = try await BenchDatabase.using(database, connections: concurrency + 2) { db in
            try await WalletBenchmark.run(pool: db.pool, settings: .init(charges: charges, wallets: wallets, concurrency: concurrency))
        }
        print(report)
    }
}

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
    @Flag(inversion: .prefixedNo, help: "Also run the anchor: the same rows and postings as bare SQL under pgbench, same database (needs pgbench).")
    var anchor = true

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
                let result = try await FollowUpsBenchmark.followUps(pool: db.pool, workerPool: workerPool,
                                                                   providers: FollowUpProviders(providers), customers: customers, channels: channels,
                                                                   concurrency: concurrency, claimBatch: claimBatch, logger: logger)
                print(String(format: "%d follow-ups (%d channels) in %.2f s: %.0f follow-ups/s (%d deliveries sent, %d not), %d ms provider latency, concurrency %d",
                             result.customers, result.channels, result.seconds, result.followUpsPerSecond, result.deliveriesSent,
                             result.deliveriesNotSent, latencyMs, concurrency))
                var json = result.json
                if anchor, let pgbench = Pgbench.find() {
                    let url = db.cluster?.tcpURL(database: "postgres") ?? db.configuration.connectionString
                    let bare = try await FollowUpsAnchor.run(pgbench: pgbench, url: url, pool: db.pool, channels: result.channelIDs,
                                                             count: customers, clients: connections)
                    let ratio = result.followUpsPerSecond / max(bare.followUpsPerSecond, 1e-9)
                    print(String(format: "anchor (the same rows and postings as bare SQL under pgbench, %d connections): %.0f follow-ups/s → the product is %.0f%% of it",
                                 connections, bare.followUpsPerSecond, ratio * 100))
                    json = String(json.dropLast()) + String(format: #","anchor_followups_per_second":%.1f,"product_over_anchor":%.3f}"#,
                                                              bare.followUpsPerSecond, ratio)
                } else if anchor {
                    print("anchor skipped: pgbench not found (apt install postgresql-client)")
                }
                print(json)
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
            let result = try await ActivityBenchmark.activity(databaseURL: url, pool: db.pool, clients: clients,
                                                              seconds: seconds, rounds: rounds)
            print(String(format: "activity: %.0f rows/s, bare table: %.0f rows/s → %.0f%% of bare (%@, %d clients)",
                         result.activityRowsPerSecond, result.bareRowsPerSecond, result.ratio * 100, result.tool, clients))
            print(result.json)
        }
    }
}
