import ArgumentParser
import Foundation
import Jobs
import Logging
import Postgres
import Schema

/// `followup demo`: the product working end to end on a Postgres it starts itself.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See it work: starts its own Postgres, runs jobs through the queue, prints what happened.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        var logger = Logger(label: "demo")
        logger.logLevel = .warning
        let cluster = database.isSet ? nil : try await EmbeddedCluster.start(logger: logger)
        let stop = StopOnSignal { cluster?.stop() }
        defer { stop.cancel(); cluster?.stop() }
        let configuration = try cluster?.configuration ?? database.configuration()
        let pool = ConnectionPool(configuration, maxConnections: 8)
        print("Postgres: \(cluster.map { "embedded, port \($0.port)" } ?? "DATABASE_URL")")
        try await Migrator(try Migration.load(from: Schema.directory)).migrate(pool)

        var registry = JobRegistry()
        DiagnosticJobs.register(in: &registry)
        var configuration_ = WorkerConfiguration()
        configuration_.queues = [.init("default", concurrency: 4)]
        let worker = JobWorker(pool: pool, registry: registry, configuration: configuration_, logger: logger)
        let task = Task { try await worker.run() }
        print("Enqueueing 3 jobs in one transaction, one due in 1 s, and one of an unknown kind…")
        try await pool.withTransaction { tx in
            for ms in [50, 100, 150] {
                try await JobQueue.enqueue(DiagnosticJobs.Sleep(ms: ms), on: tx)
            }
            try await JobQueue.enqueue(DiagnosticJobs.Noop(), options: EnqueueOptions(delay: .seconds(1)), on: tx)
            try await JobQueue.enqueue(kind: "demo.unknown", on: tx)
        }
        _ = await QueueBenchmark.eventually(timeout: .seconds(10)) { worker.metrics.snapshot.completed + worker.metrics.snapshot.dead >= 5 }
        worker.shutdown()
        try await task.value
        for job in try await JobAdmin.list(state: nil, on: pool).reversed() {
            print("  job \(job.id) \(job.kind): \(job.state) after \(job.attempt) attempt(s)\(job.lastError.map { " — \($0)" } ?? "")")
        }
        await pool.close()
    }
}

/// Stops the embedded cluster on Ctrl-C / SIGTERM before exiting.
final class StopOnSignal {
    private let sources: [DispatchSourceSignal]
    init(_ action: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                action()
                exit(130)
            }
            source.resume()
            return source
        }
    }
    func cancel() { for source in sources { source.cancel() } }
}
