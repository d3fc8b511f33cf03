import ArgumentParser
import Foundation
import Wallet

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: they print figures (one JSON object as the last line); they are not tests.",
        subcommands: [Queue.self] + ProductBenchmarks.extra)

    struct Queue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The job queue: drain throughput, idle enqueue→start latency, near-future lateness.",
            discussion: """
                drain:    load --jobs no-op jobs, drain them with --workers workers claiming --batch at a time.
                idle:     an idle poller; jobs enqueued one by one; enqueue→start latency (the NOTIFY path).
                lateness: --scheduled-later jobs due in an hour, then jobs due in 100–300 ms; how late they start.
                Uses --database-url if given, else an embedded cluster with fsync on.
                For the side-by-side comparison with pgbench and PgQueuer, see benchmarks/compare_queue.sh.
                """)
        @OptionGroup var database: DatabaseOptions
        @Option(help: "drain, idle or lateness.") var mode: String = "drain"
        @Option(help: "Jobs to drain.") var jobs: Int = 50_000
        @Option(help: "Concurrent workers (the queue's concurrency).") var workers: Int = 16
        @Option(help: "Jobs claimed per round trip.") var batch: Int = 10
        @Option(help: "Jobs scheduled later, for --mode lateness.") var scheduledLater: Int = 1_000_000
        @Option(help: "Jobs measured in idle and lateness modes.") var samples: Int = 200

        func run() async throws {
            guard let mode = QueueBenchmark.Mode(rawValue: mode) else {
                throw ValidationError("--mode must be one of \(QueueBenchmark.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard jobs > 0, workers > 0, batch > 0, samples > 0, scheduledLater >= 0 else {
                throw ValidationError("--jobs, --workers, --batch and --samples must be positive")
            }
            let line = try await BenchDatabase.using(database, connections: 8) { db in
                try await QueueBenchmark.run(mode, settings: .init(jobs: jobs, workers: workers, batch: batch, scheduledLater: scheduledLater, samples: samples), database: db)
            }
            print(line)
        }
    }
}

/// Benchmarks contributed by the product modules (follow-ups, activity ingest, wallet).
enum ProductBenchmarks {
    static let extra: [ParsableCommand.Type] = [FollowUpsBench.self, ActivityBench.self, WalletBench.self, WebhooksBench.self,
                                                   ActivityGrowthBench.self]
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
