import Foundation
import Jobs
import Postgres
import Testing
import TestSupport

@Suite("The worker")
struct WorkerTests {
    /// A registry whose `test.noop` handler writes a `runs` row in the job's completing transaction.
    func recordingRegistry(worker: String, work: Duration = .zero) -> JobRegistry {
        var registry = JobRegistry()
        registry.register(Noop.self) { _, context in
            if work > .zero { try await Task.sleep(for: work) }
            try await context.complete { tx in
                try await tx.execute("INSERT INTO runs VALUES (\(context.job.id), \(context.job.attempt), \(worker))")
            }
            return .done
        }
        return registry
    }

    @Test("no job runs twice when three workers race for 600 jobs")
    func noDoubleRuns() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 12)
        try await createRunsTable(db)
        try await JobQueue.enqueueMany(kind: Noop.kind, payloads: (0..<600).map { "{\"n\": \($0)}" }, on: db.pool)
        let workers = (0..<3).map { i in
            RunningWorker(JobWorker(pool: db.anotherPool(maxConnections: 10), registry: recordingRegistry(worker: "w\(i)"),
                                    configuration: fastConfiguration(concurrency: 8)))
        }
        #expect(try await eventually(timeout: .seconds(60)) { try await count(db, "SELECT count(*)::int FROM runs") >= 600 })
        for worker in workers { try await worker.stop() }
        #expect(try await count(db, "SELECT count(*)::int FROM runs") == 600)
        #expect(try await count(db, "SELECT count(DISTINCT job_id)::int FROM runs") == 600)
        #expect(try await count(db, "SELECT count(*)::int FROM job_history WHERE state = 'completed'") == 600)
        #expect(try await count(db, "SELECT count(DISTINCT id)::int FROM job_history") == 600)
        #expect(try await count(db, "SELECT count(*)::int FROM jobs") == 0, "completed jobs leave the claim table")
        // The work was shared, not done by one worker while the others idled.
        #expect(try await count(db, "SELECT count(DISTINCT worker)::int FROM runs") >= 2)
    }

    @Test("a worker whose lease expired cannot complete or write its outcome; the rescued job finishes once")
    func fencing() async throws {
        let db = try await TestDatabase.fresh()
        try await createRunsTable(db)
        let id = try #require(try await JobQueue.enqueue(Noop(n: 1), on: db.pool))

        // A slow worker with a tiny lease and no heartbeat (its heartbeat interval is longer than the
        // test), and one slot: busy with attempt 1, it cannot also claim the rescued attempt 2.
        var slowConfiguration = fastConfiguration(concurrency: 1, lease: .milliseconds(300))
        slowConfiguration.heartbeatInterval = .seconds(3600)
        slowConfiguration.rescueInterval = .seconds(3600)
        let proceed = LockedValue(false)
        let slowOutcome = LockedValue<String?>(nil)
        var slowRegistry = JobRegistry()
        slowRegistry.register(Noop.self) { _, context in
            while !proceed.current { try await Task.sleep(for: .milliseconds(20)) }
            do {
                try await context.complete { tx in
                    try await tx.execute("INSERT INTO runs VALUES (\(context.job.id), \(context.job.attempt), 'slow')")
                }
                slowOutcome.withLock { $0 = "completed" }
            } catch let error as LeaseLostError {
                slowOutcome.withLock { $0 = "lease lost: \(error)" }
                throw error
            }
            return .done
        }
        let slow = RunningWorker(JobWorker(pool: db.anotherPool(), registry: slowRegistry, configuration: slowConfiguration))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM jobs WHERE state = 'running'") == 1 })

        // A healthy worker rescues the expired lease and finishes the job.
        let rescuer = RunningWorker(JobWorker(pool: db.anotherPool(), registry: recordingRegistry(worker: "rescuer"), configuration: fastConfiguration()))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM runs WHERE worker = 'rescuer'") == 1 })

        proceed.withLock { $0 = true }
        #expect(await eventually { slowOutcome.current != nil })
        #expect(slowOutcome.current?.hasPrefix("lease lost") == true)
        try await slow.stop()
        try await rescuer.stop()
        #expect(try await count(db, "SELECT count(*)::int FROM runs") == 1)
        // Completed once: one history record (the slow worker's fenced completion wrote none), none left in jobs.
        #expect(try await count(db, "SELECT count(*)::int FROM jobs") == 0)
        #expect(try await count(db, "SELECT count(*)::int FROM job_history WHERE id = \(id)") == 1)
        let row = try #require(try await db.pool.first("SELECT state, attempt, errors::text FROM job_history WHERE id = \(id)"))
        #expect(try row.decode(JobState.self, at: 0) == .completed)
        #expect(try row.decode(Int.self, at: 1) == 2)
        #expect(try row.decode(String.self, at: 2).contains("lease expired"))
    }

    @Test("a throwing handler is retried with growing backoff, then dead after max attempts, errors kept")
    func retriesThenDead() async throws {
        let db = try await TestDatabase.fresh()
        struct Flaky: Error, CustomStringConvertible { var n: Int; var description: String { "provider said no #\(n)" } }
        var registry = JobRegistry()
        registry.register(Noop.self) { _, context in throw Flaky(n: context.job.attempt) }
        let id = try #require(try await JobQueue.enqueue(Noop(n: 1), options: EnqueueOptions(maxAttempts: 4), on: db.pool))
        var configuration = fastConfiguration()
        configuration.backoff = Backoff(base: .milliseconds(100), maximum: .seconds(2))
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: registry, configuration: configuration))
        #expect(try await eventually(timeout: .seconds(30)) { try await count(db, "SELECT count(*)::int FROM jobs WHERE state = 'dead'") == 1 })
        try await worker.stop()
        let errors = try await db.pool.query("""
            SELECT (e->>'attempt')::int, e->>'error', (e->>'at')::timestamptz FROM jobs, jsonb_array_elements(errors) e WHERE id = \(id) ORDER BY 1
            """)
        #expect(errors.map { try! $0.decode(Int.self, at: 0) } == [1, 2, 3, 4])
        #expect(errors.map { try! $0.decode(String.self, at: 1) } == (1...4).map { "provider said no #\($0)" })
        // Backoff grows: base 100 ms doubling, full jitter in [50%, 100%]; the last attempt schedules nothing.
        let backoffs = try await db.pool.query("SELECT (e->>'retry_in_ms')::float8 FROM jobs, jsonb_array_elements(errors) e WHERE id = \(id) ORDER BY (e->>'attempt')::int")
            .map { try $0.decode(Double?.self, at: 0) }
        #expect(backoffs.count == 4)
        #expect((50...100).contains(backoffs[0] ?? -1))
        #expect((100...200).contains(backoffs[1] ?? -1))
        #expect((200...400).contains(backoffs[2] ?? -1))
        #expect(backoffs[3] == nil)
        // And the retries waited for it: consecutive failures are at least the scheduled backoff apart.
        let times = errors.map { try! $0.decode(Date.self, at: 2) }
        for i in 0..<3 { #expect(times[i + 1].timeIntervalSince(times[i]) * 1000 >= (backoffs[i] ?? 0) - 5) }
        #expect(worker.worker.metrics.snapshot.retried == 3)
        #expect(worker.worker.metrics.snapshot.dead == 1)
    }

    @Test("snooze runs the job again later without using up an attempt")
    func snooze() async throws {
        let db = try await TestDatabase.fresh()
        var registry = JobRegistry()
        registry.register(Noop.self) { _, context in
            context.job.attempt < 3 ? .snooze(.milliseconds(50)) : .done
        }
        let id = try #require(try await JobQueue.enqueue(Noop(n: 1), options: EnqueueOptions(maxAttempts: 1), on: db.pool))
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: registry, configuration: fastConfiguration()))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM job_history WHERE state = 'completed'") == 1 })
        try await worker.stop()
        #expect(try await db.pool.scalar("SELECT attempt FROM job_history WHERE id = \(id)", as: Int.self) == 3)
    }

    @Test("bad input: a malformed payload and an unknown kind go to dead with a clear error; nothing is lost")
    func badInput() async throws {
        let db = try await TestDatabase.fresh()
        try await createRunsTable(db)
        try await db.pool.execute("INSERT INTO jobs (kind, payload) VALUES ('test.noop', '{\"n\": \"not a number\"}'), ('test.unheard_of', '{}'), ('test.noop', '{\"n\": 5}')")
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: recordingRegistry(worker: "w"), configuration: fastConfiguration()))
        #expect(try await eventually {
            try await count(db, "SELECT count(*)::int FROM jobs WHERE state = 'dead'") + count(db, "SELECT count(*)::int FROM job_history") == 3
        })
        try await worker.stop()
        let dead = try await db.pool.query("SELECT kind, payload::text, errors->0->>'error' FROM jobs WHERE state = 'dead' ORDER BY kind")
        #expect(dead.count == 2)
        #expect(try dead[0].decode(String.self, at: 2).contains("does not decode as Noop"))
        #expect(try dead[0].decode(String.self, at: 1).contains("not a number"))  // the payload is kept for the operator
        #expect(try dead[1].decode(String.self, at: 2).contains("unknown job kind test.unheard_of"))
        // Dead on the first attempt: retrying cannot fix either.
        #expect(try await count(db, "SELECT count(*)::int FROM jobs WHERE state = 'dead' AND attempt = 1") == 2)
        #expect(try await count(db, "SELECT count(*)::int FROM runs") == 1)
    }

    @Test("periodic: three pollers firing for ten ticks give ten runs, not thirty")
    func periodicOncePerTick() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 12)
        let schedule = PeriodicJob(name: "tick", kind: Noop.kind, every: .seconds(60), payloadJSON: "{\"n\": 0}")
        try await PeriodicSchedules.register([schedule], on: db.pool)
        let start = try await db.pool.scalar("SELECT next_tick FROM job_schedules WHERE name = 'tick'", as: Date.self)
        for tick in 0..<10 {
            let at = start.addingTimeInterval(Double(tick) * 60 + 1)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 { group.addTask { _ = try await PeriodicSchedules.fireDue(at: at, on: db.anotherPool(maxConnections: 1)) } }
                try await group.waitForAll()
            }
        }
        #expect(try await count(db, "SELECT count(*)::int FROM jobs WHERE kind = 'test.noop'") == 10)
        #expect(try await count(db, "SELECT count(DISTINCT payload->>'tick')::int FROM jobs") == 10)
        // Downtime: jumping five ticks ahead coalesces them into one run.
        _ = try await PeriodicSchedules.fireDue(at: start.addingTimeInterval(15 * 60 + 1), on: db.pool)
        #expect(try await count(db, "SELECT count(*)::int FROM jobs WHERE kind = 'test.noop'") == 11)
    }

    @Test("pruning deletes cancelled and dead jobs past their retention and keeps the rest")
    func pruning() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.execute("""
            INSERT INTO jobs (kind, state, finished_at) VALUES
              ('old', 'cancelled', now() - interval '2 days'), ('new', 'cancelled', now()),
              ('olddead', 'dead', now() - interval '2 days'), ('ancientdead', 'dead', now() - interval '30 days'),
              ('waiting', 'available', NULL)
            """)
        var configuration = fastConfiguration()
        configuration.pruneInterval = .milliseconds(50)
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: JobRegistry(), configuration: configuration))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM jobs WHERE kind IN ('old', 'ancientdead')") == 0 })
        try await worker.stop()
        #expect(try await db.pool.scalar("SELECT string_agg(kind, ',' ORDER BY kind) FROM jobs", as: String.self) == "new,olddead,waiting")
    }

    @Test("a server whose autovacuum looks only every minute gets one warning naming the setting at start-up")
    func autovacuumWarning() async throws {
        let db = try await TestDatabase.fresh()  // the test cluster keeps the server's default naptime (60 s)
        let logs = CapturedLogs()
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: JobRegistry(), configuration: fastConfiguration(),
                                             logger: logs.logger(label: "test.worker")))
        #expect(await eventually { logs.records.contains { $0.message.contains("autovacuum_naptime = 5s") } })
        try await worker.stop()
        let warnings = logs.records.filter { $0.message.contains("autovacuum") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.level == .warning)
        #expect(warnings.first?.metadata["autovacuum_naptime_s"]?.description == "60")
    }
}

@Suite("Retry-After hints")
struct RetryAfterHintTests {
    struct RateLimited: RetryAfterHint {
        var retryAfter: Duration?
    }

    @Test("a failure's Retry-After delays the retry, capped; without one, the backoff alone")
    func hinted() async throws {
        let db = try await TestDatabase.fresh()
        var registry = JobRegistry()
        registry.register(Noop.self) { noop, _ in
            switch noop.n {
            case 1: throw RateLimited(retryAfter: .seconds(30))
            case 2: throw RateLimited(retryAfter: .seconds(99_999_999))
            default: throw RateLimited(retryAfter: nil)
            }
        }
        try await JobQueue.enqueueMany(kind: Noop.kind, payloads: ["{\"n\": 1}", "{\"n\": 2}", "{\"n\": 3}"], on: db.pool)
        var configuration = fastConfiguration()
        configuration.retryAfterCap = .seconds(60)
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: registry, configuration: configuration))
        #expect(try await eventually { try await count(db, "SELECT count(*)::int FROM jobs WHERE jsonb_array_length(errors) >= 1") == 3 })
        try await worker.stop()
        let waits = try await db.pool.query("""
            SELECT (payload->>'n')::int, extract(epoch FROM run_at - now())::float8 FROM jobs ORDER BY 1
            """).map { try $0.decode(Double.self, at: 1) }
        #expect(waits.count == 3)
        #expect((25...31).contains(waits[0]), "Retry-After: 30 s honoured: \(waits)")
        #expect((55...61).contains(waits[1]), "a huge Retry-After is capped at 60 s: \(waits)")
        #expect(waits[2] < 1, "no hint: the 20–200 ms backoff: \(waits)")
    }
}
