import Fakes
import Foundation
import Jobs
import Postgres
import Testing
import TestSupport

/// `followup run` as a real process: signals, crashes, bad input.
@Suite("The followup process")
struct PollerProcessTests {
    func sleepJobs(_ db: TestDatabase, count: Int, ms: Int) async throws {
        try await JobQueue.enqueueMany(kind: "followup.sleep", payloads: Array(repeating: "{\"ms\": \(ms)}", count: count), on: db.pool)
    }

    /// Jobs of `state`, completed ones in `job_history` (they leave `jobs`).
    func state(_ db: TestDatabase, _ state: String) async throws -> Int {
        try await db.pool.scalar("""
            SELECT (SELECT count(*) FROM jobs WHERE kind = 'followup.sleep' AND state = \(state)::job_state)
                 + (SELECT count(*) FROM job_history WHERE kind = 'followup.sleep' AND state = \(state)::job_state)
            """, as: Int.self)
    }

    @Test("SIGTERM: in-flight jobs finish within the grace period, nothing new is claimed, exit 0")
    func sigterm() async throws {
        let db = try await TestDatabase.fresh()
        try await sleepJobs(db, count: 10, ms: 1500)
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        let poller = try ChildProcess(ChildProcess.followupBinary, ["run", "--database-url", try await db.url, "--queues", "default=3", "--shutdown-grace", "20"],
                                      environment: fakes.environment)
        #expect(try await eventually { try await state(db, "running") == 3 })
        poller.signal(SIGTERM)
        let code = await poller.wait(timeout: .seconds(15))
        #expect(code == 0, "exit \(String(describing: code)): \(poller.output)")
        #expect(try await state(db, "completed") == 3)
        #expect(try await state(db, "available") == 7)
        #expect(try await state(db, "running") == 0)
    }

    @Test("SIGKILL: the killed poller's jobs are rescued after the lease and finish once")
    func sigkill() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.execute("CREATE TABLE runs (job_id bigint NOT NULL)")
        try await sleepJobs(db, count: 2, ms: 60_000)
        let fakes = try FakeProviders()
        defer { fakes.stop() }
        let poller = try ChildProcess(ChildProcess.followupBinary, ["run", "--database-url", try await db.url, "--queues", "default=2", "--lease-seconds", "1"],
                                      environment: fakes.environment)
        #expect(try await eventually { try await state(db, "running") == 2 })
        poller.signal(SIGKILL)
        #expect(await poller.wait(timeout: .seconds(5)) == 128 + SIGKILL)

        var registry = JobRegistry()
        registry.register(kind: "followup.sleep") { context in
            try await context.complete { tx in try await tx.execute("INSERT INTO runs VALUES (\(context.job.id))") }
            return .done
        }
        var configuration = WorkerConfiguration()
        configuration.rescueInterval = .milliseconds(100)
        configuration.safetyPoll = .milliseconds(200)
        let worker = JobWorker(pool: db.anotherPool(), registry: registry, configuration: configuration)
        let task = Task { try await worker.run() }
        #expect(try await eventually { try await state(db, "completed") == 2 })
        worker.shutdown()
        try await task.value
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM runs", as: Int.self) == 2)
        #expect(try await db.pool.scalar("SELECT bool_and(errors->0->>'error' LIKE 'lease expired%') FROM job_history WHERE kind = 'followup.sleep'", as: Bool.self))
    }

    @Test("a bad DATABASE_URL is a clear error that does not echo the password")
    func badDatabaseURL() async throws {
        let bad = try ChildProcess(ChildProcess.followupBinary, ["migrate", "--database-url", "postgresql://u:hunter2@localhost/db?no_such_option=1"])
        #expect(await bad.wait(timeout: .seconds(10)) != 0)
        #expect(bad.output.contains("bad database URL"))
        #expect(!bad.output.contains("hunter2"))

        let missing = try ChildProcess(ChildProcess.followupBinary, ["run"])
        #expect(await missing.wait(timeout: .seconds(10)) != 0)
        #expect(missing.output.contains("DATABASE_URL"))

        let unreachable = try ChildProcess(ChildProcess.followupBinary, ["migrate", "--database-url", "postgresql://u:hunter2@127.0.0.1:1/db"])
        #expect(await unreachable.wait(timeout: .seconds(15)) != 0)
        #expect(unreachable.output.contains("connect"))
        #expect(!unreachable.output.contains("hunter2"))
    }

    @Test("run without provider settings refuses to start, naming the variable")
    func missingProviders() async throws {
        let db = try await TestDatabase.fresh()
        let poller = try ChildProcess(ChildProcess.followupBinary, ["run", "--database-url", try await db.url],
                                      environment: ["FOLLOWUP_TWILIO_AUTH_TOKEN": "secret-token-value"])
        #expect(await poller.wait(timeout: .seconds(10)) != 0)
        #expect(poller.output.contains("FOLLOWUP_TWILIO_ACCOUNT_SID"))
        #expect(!poller.output.contains("secret-token-value"))
    }

    @Test("--queues with a bad value is refused with a usable message")
    func badQueues() async throws {
        let bad = try ChildProcess(ChildProcess.followupBinary, ["run", "--database-url", "postgresql:///x", "--queues", "default"])
        #expect(await bad.wait(timeout: .seconds(10)) != 0)
        #expect(bad.output.contains("name=concurrency"))
    }
}
