import Foundation
import Jobs
import Logging
import Postgres

/// `followup bench queue`: the queue's own figures. Each mode prints one JSON object as its last line.
enum QueueBenchmark {
    enum Mode: String, CaseIterable { case drain, sustained, idle, lateness }

    struct Settings {
        var jobs: Int
        var workers: Int
        var batch: Int
        var scheduledLater: Int
        var samples: Int
    }

    static func run(_ mode: Mode, settings: Settings, database: BenchDatabase) async throws -> String {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        try await database.pool.execute("TRUNCATE jobs")
        var registry = JobRegistry()
        DiagnosticJobs.register(in: &registry)
        var configuration = WorkerConfiguration()
        configuration.queues = [.init("bench", concurrency: settings.workers)]
        configuration.claimBatch = settings.batch
        configuration.pruneInterval = .seconds(3600)
        let workerPool = ConnectionPool(database.configuration, maxConnections: settings.workers + 4)

        switch mode {
        case .drain:
            print("loading \(settings.jobs) no-op jobs…")
            for start in stride(from: 0, to: settings.jobs, by: 50_000) {
                try await JobQueue.enqueueMany(kind: DiagnosticJobs.Noop.kind, payloads: Array(repeating: "{}", count: min(50_000, settings.jobs - start)), queue: "bench", on: database.pool)
            }
            try await database.pool.execute("VACUUM ANALYZE jobs")
            let worker = JobWorker(pool: workerPool, registry: registry, configuration: configuration, logger: logger)
            let started = ContinuousClock.now
            let task = Task { try await worker.run() }
            var peakMemory = 0.0
            while worker.metrics.snapshot.completed < settings.jobs {
                try await Task.sleep(for: .milliseconds(10))
                peakMemory = max(peakMemory, residentMemoryMiB())
            }
            let elapsed = (ContinuousClock.now - started).seconds
            worker.shutdown()
            try await task.value
            await workerPool.close()
            let lateness = worker.metrics.snapshot.latenessMilliseconds
            return jsonLine([("mode", "drain"), ("jobs", settings.jobs), ("workers", settings.workers), ("claim_batch", settings.batch),
                             ("seconds", elapsed), ("jobs_per_second", Double(settings.jobs) / elapsed),
                             ("latency_p50_ms", percentile(lateness, 50)), ("latency_p99_ms", percentile(lateness, 99)),
                             ("rss_mib", peakMemory)])

        case .sustained:
            preconditionFailure("sustained runs in QueueSustained")

        case .idle, .lateness:
            if mode == .lateness {
                print("scheduling \(settings.scheduledLater) jobs for later…")
                try await database.pool.execute("""
                    INSERT INTO public.jobs (kind, queue, run_at) SELECT 'followup.noop', 'bench', now() + interval '1 hour' + g * interval '1 ms'
                    FROM generate_series(1, \(settings.scheduledLater)) g
                    """)
                try await database.pool.execute("VACUUM ANALYZE jobs")
            }
            let worker = JobWorker(pool: workerPool, registry: registry, configuration: configuration, logger: logger)
            let task = Task { try await worker.run() }
            try await Task.sleep(for: .milliseconds(500))  // listening, idle
            let client = ConnectionPool(database.configuration, maxConnections: 2)
            for i in 0..<settings.samples {
                let delay: Duration = mode == .idle ? .zero : .milliseconds(100 + (i % 5) * 50)
                try await JobQueue.enqueue(kind: DiagnosticJobs.Noop.kind, options: EnqueueOptions(queue: "bench", delay: delay), on: client)
                try await Task.sleep(for: .milliseconds(20))
            }
            _ = await eventually { worker.metrics.snapshot.completed >= settings.samples }
            let memory = residentMemoryMiB()
            worker.shutdown()
            try await task.value
            await client.close()
            await workerPool.close()
            let lateness = worker.metrics.snapshot.latenessMilliseconds
            return jsonLine([("mode", mode.rawValue), ("samples", lateness.count), ("scheduled_later", mode == .lateness ? settings.scheduledLater : 0),
                             ("workers", settings.workers), ("claim_batch", settings.batch),
                             ("latency_p50_ms", percentile(lateness, 50)), ("latency_p99_ms", percentile(lateness, 99)),
                             ("latency_max_ms", lateness.max() ?? 0), ("rss_mib", memory)])
        }
    }

    /// `jobs_per_second` of a drain's JSON line.
    static func jobsPerSecond(in line: String) -> Double {
        guard let data = line.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return 0 }
        return (object["jobs_per_second"] as? NSNumber)?.doubleValue ?? 0
    }

    static func eventually(timeout: Duration = .seconds(30), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
