import Foundation
import Jobs
import Postgres
import Testing
import TestSupport

/// `followup jobs list/retry/cancel`: what the operator sees and can do, against a real queue.
@Suite("Job administration")
struct JobAdminTests {

    @Test("list shows live, dead (with the last error) and completed jobs; retry brings a dead one back; cancel stops a waiting one")
    func listRetryCancel() async throws {
        let db = try await TestDatabase.fresh()
        var registry = JobRegistry()
        registry.register(Noop.self) { noop, _ in
            if noop.n == 2 { throw PermanentJobError("the provider said no") }
            return .done
        }
        let done = try #require(try await JobQueue.enqueue(Noop(n: 1), on: db.pool))
        let failing = try #require(try await JobQueue.enqueue(Noop(n: 2), on: db.pool))
        let worker = RunningWorker(JobWorker(pool: db.anotherPool(), registry: registry, configuration: fastConfiguration()))
        #expect(try await eventually { try await JobAdmin.list(state: .dead, on: db.pool).count == 1 })
        #expect(try await eventually { try await JobAdmin.list(state: .completed, on: db.pool).count == 1 })
        try await worker.stop()

        let dead = try #require(try await JobAdmin.list(state: .dead, on: db.pool).first)
        #expect(dead.id == failing && dead.kind == Noop.kind && dead.queue == "default" && dead.attempt == 1)
        #expect(dead.lastError?.contains("the provider said no") == true, "\(dead.lastError ?? "nil")")
        let completed = try #require(try await JobAdmin.list(state: .completed, on: db.pool).first)
        #expect(completed.id == done && completed.state == .completed && completed.lastError == nil)
        #expect(try await JobAdmin.list(state: .dead, kind: "another.kind", on: db.pool).isEmpty)

        #expect(try await JobAdmin.retry(id: failing, on: db.pool))
        #expect(try await !JobAdmin.retry(id: failing, on: db.pool), "only a dead or cancelled job is retried")
        let retried = try #require(try await JobAdmin.list(state: .available, on: db.pool).first)
        #expect(retried.id == failing && retried.maxAttempts >= 2 && retried.lastError != nil, "its error history is kept")

        #expect(try await JobAdmin.cancel(id: failing, on: db.pool))
        #expect(try await JobAdmin.list(state: .cancelled, on: db.pool).map(\.id) == [failing])
        #expect(try await !JobAdmin.cancel(id: done, on: db.pool), "a completed job has left jobs")
        #expect(try await JobAdmin.list(state: nil, on: db.pool).map(\.id) == [failing])
    }
}
