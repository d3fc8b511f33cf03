import Foundation
import Jobs
import Logging
import Postgres
import Synchronization

/// `followup bench queue --mode sustained`: jobs arrive at a fixed rate while the poller drains
/// them, for minutes, and finished jobs stay behind as production's retention keeps them.
///
/// Two phases on one database, one worker:
/// 1. **search** (skipped when `--rate` is given): steps of `stepSeconds`, from `startRate`
///    up by `rateStep` each step, until a step misses — a step *holds* when at most 1% of the
///    jobs enqueued in it started 1 s or more after they were enqueued (enqueue→start p99 < 1 s;
///    a job not started yet counts as late). The highest step that held is the rate.
/// 2. **hold**: that rate for `minutes`; reports the start rate and the p99 in the first and
///    the last 10% of it, so a queue that slows as its table grows shows it.
///
/// Jobs are enqueued every 10 ms as one multi-row insert (`JobQueue.enqueueMany`): many app
/// servers' enqueues arriving together. enqueue→start is measured by the handler: the moment it
/// starts minus the job's `run_at` (the enqueue's `now()`; same host, same clock).
enum QueueSustained {
    struct Settings {
        var workers: Int
        var batch: Int
        /// nil: search for the highest rate first.
        var rate: Int?
        var startRate: Int
        var rateStep: Int
        var maxRate: Int
        var stepSeconds: Int
        var minutes: Double
    }

    static let kind = "bench.sustained"

    static func run(settings: Settings, database: BenchDatabase) async throws -> String {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        try await database.pool.execute("TRUNCATE public.jobs")
        let recorder = StartRecorder()
        var registry = JobRegistry()
        registry.register(kind: kind) { context in
            recorder.started(runAt: context.job.runAt)
            return .done
        }
        // Production's settings except the queue: retention and pruning as `followup run` has them,
        // so finished history accumulates in the table as it would.
        var configuration = WorkerConfiguration()
        configuration.queues = [.init("bench", concurrency: settings.workers)]
        configuration.claimBatch = settings.batch
        let workerPool = ConnectionPool(database.configuration, maxConnections: settings.workers + 4)
        let enqueuePool = ConnectionPool(database.configuration, maxConnections: 2)
        let worker = JobWorker(pool: workerPool, registry: registry, configuration: configuration, logger: logger)
        let task = Task { try await worker.run() }
        defer { worker.shutdown() }
        let enqueuer = Enqueuer(pool: enqueuePool, recorder: recorder)

        var steps: [Window] = []
        var held: Int? = settings.rate
        if settings.rate == nil {
            var rate = settings.startRate
            while rate <= settings.maxRate {
                let from = recorder.second
                try await enqueuer.enqueue(rate: rate, for: .seconds(settings.stepSeconds))
                // The step's jobs up to 1 s before its end must have started by now if p99 < 1 s.
                let step = recorder.window(from: from, to: recorder.second - 1, offered: rate)
                steps.append(step)
                print(step.line("search"))
                guard step.held else { break }
                held = rate
                rate += settings.rateStep
            }
            // Let the backlog of a missed step drain before holding, so it does not count there.
            _ = await recorder.waitUntilStarted(timeout: .seconds(60))
        }

        var hold: (first: Window, last: Window, all: Window)?
        if let rate = held {
            let from = recorder.second
            let seconds = max(10, Int(settings.minutes * 60))
            try await enqueuer.enqueue(rate: rate, for: .seconds(seconds), progress: { second in
                if (second - from) % 60 == 59 { print(recorder.window(from: second - 59, to: second - 1, offered: rate).line("minute")) }
            })
            let to = recorder.second
            _ = await recorder.waitUntilStarted(timeout: .seconds(30))
            let tenth = max(1, (to - from) / 10)
            hold = (recorder.window(from: from, to: from + tenth, offered: rate),
                    recorder.window(from: to - tenth, to: to, offered: rate),
                    recorder.window(from: from, to: to, offered: rate))
        }
        worker.shutdown()
        try await task.value
        await enqueuePool.close()
        await workerPool.close()
        let rows = try await database.pool.scalar("SELECT count(*)::bigint FROM public.jobs", as: Int.self)

        var fields: [(String, Any)] = [("mode", "sustained"), ("workers", settings.workers), ("claim_batch", settings.batch),
                                       ("highest_rate_held", held ?? 0), ("p99_limit_ms", 1000)]
        if let last = steps.last, !last.held { fields.append(("first_missed_rate", last.offered)) }
        if let hold {
            print(hold.all.line("hold"))
            fields += [("hold_seconds", hold.all.seconds),
                       ("first_10pct_jobs_per_second", hold.first.startRate), ("last_10pct_jobs_per_second", hold.last.startRate),
                       ("first_10pct_p99_ms", hold.first.p99), ("last_10pct_p99_ms", hold.last.p99),
                       ("hold_p99_ms", hold.all.p99), ("held_throughout", hold.all.held),
                       ("last_over_first", hold.last.startRate / max(hold.first.startRate, 1e-9))]
        }
        fields += [("jobs_rows_at_end", rows), ("rss_mib", residentMemoryMiB())]
        return jsonLine(fields)
    }

    /// What happened to the jobs enqueued in some whole seconds of the run.
    struct Window {
        var offered: Int
        var seconds: Int
        var enqueued: Int
        /// Jobs started per second during these seconds (by start time).
        var startRate: Double
        /// enqueue→start p99 of these seconds' jobs, milliseconds; a job not started counts as infinitely late.
        var p99: Double
        var arrivalRate: Double { Double(enqueued) / Double(max(1, seconds)) }
        /// p99 under 1 s, and at least 90% of the offered jobs arrived (an enqueuer the machine
        /// cannot keep up with does not count as a rate held).
        var held: Bool { p99 < 1000 && enqueued > 0 && arrivalRate >= 0.9 * Double(offered) }

        func line(_ phase: String) -> String {
            String(format: "%@: offered %d/s for %d s: %d enqueued, arrived %.0f/s, started %.0f/s, enqueue→start p99 %@ → %@",
                   phase, offered, seconds, enqueued, arrivalRate, startRate, p99.isFinite ? String(format: "%.1f ms", p99) : "≥ 1 s (not all started)",
                   held ? "held" : "missed")
        }
    }

    /// Enqueues at a fixed rate in 10 ms ticks. One enqueuer: if it falls behind, it catches up
    /// with larger inserts (the count per second stays the rate).
    struct Enqueuer {
        let pool: ConnectionPool
        let recorder: StartRecorder

        func enqueue(rate: Int, for duration: Duration, progress: (Int) -> Void = { _ in }) async throws {
            let start = ContinuousClock.now
            var sent = 0
            var lastSecond = recorder.second
            while true {
                let elapsed = ContinuousClock.now - start
                if elapsed >= duration { break }
                let due = Int(Double(rate) * elapsed.seconds) - sent
                if due > 0 {
                    recorder.enqueued(due)
                    try await JobQueue.enqueueMany(kind: QueueSustained.kind, payloads: Array(repeating: "{}", count: due),
                                                   queue: "bench", on: pool)
                    sent += due
                }
                let second = recorder.second
                if second != lastSecond { progress(lastSecond); lastSecond = second }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }
}

/// Per second of the run: jobs enqueued, jobs started, and the enqueue→start times of the jobs
/// enqueued in it (milliseconds, by `run_at`'s second).
final class StartRecorder: Sendable {
    private struct State {
        var enqueued: [Int] = []
        var started: [Int] = []
        var latencies: [[Float]] = []
        var totalEnqueued = 0
        var totalStarted = 0

        mutating func grow(to second: Int) {
            while enqueued.count <= second {
                enqueued.append(0)
                started.append(0)
                latencies.append([])
            }
        }
    }

    private let origin = Date()
    private let state = Mutex(State())

    /// Whole seconds since the recorder was made.
    var second: Int { max(0, Int(Date().timeIntervalSince(origin))) }

    func enqueued(_ count: Int) {
        let second = self.second
        state.withLock { $0.grow(to: second); $0.enqueued[second] += count; $0.totalEnqueued += count }
    }

    func started(runAt: Date) {
        let now = Date()
        let latency = Float(max(0, now.timeIntervalSince(runAt)) * 1000)
        let enqueuedIn = max(0, Int(runAt.timeIntervalSince(origin)))
        let startedIn = max(0, Int(now.timeIntervalSince(origin)))
        state.withLock {
            $0.grow(to: max(enqueuedIn, startedIn))
            $0.latencies[enqueuedIn].append(latency)
            $0.started[startedIn] += 1
            $0.totalStarted += 1
        }
    }

    /// Waits until every enqueued job has started; false on timeout.
    func waitUntilStarted(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while state.withLock({ $0.totalStarted < $0.totalEnqueued }) {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }

    /// Seconds `from..<to`.
    func window(from: Int, to: Int, offered: Int) -> QueueSustained.Window {
        state.withLock { s in
            s.grow(to: max(from, to))
            let range = max(0, from)..<max(from, to)
            let enqueued = range.reduce(0) { $0 + s.enqueued[$1] }
            var latencies = range.flatMap { s.latencies[$0] }
            let missing = max(0, enqueued - latencies.count)
            latencies.append(contentsOf: repeatElement(Float.infinity, count: missing))
            latencies.sort()
            let p99 = latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int((0.99 * Double(latencies.count)).rounded(.up)) - 1)])
            let startRate = Double(range.reduce(0) { $0 + s.started[$1] }) / Double(max(1, range.count))
            return .init(offered: offered, seconds: range.count, enqueued: enqueued, startRate: startRate, p99: p99)
        }
    }
}
