import Foundation
import Jobs
import EmbeddedPostgres
import Postgres
import Schema
import Testing
import TestSupport

/// `JobContext.complete` when the connection breaks between the handler's work and the COMMIT
/// (a crash, a failover): the outcome is recorded on a new connection, and the handler — which
/// called a provider — does not run again (Sources/Jobs/JobContext+ConnectionLoss.swift).
@Suite("Completing through a lost connection")
struct ConnectionLossTests {
    @Test("the server crashes before COMMIT: the transaction runs again on a new connection, the provider is called once")
    func completeSurvivesCrash() async throws {
        // A cluster of its own (it is crashed), with durable commits as in production.
        var options = EmbeddedCluster.Options()
        options.extraSettings["synchronous_commit"] = "on"
        let cluster = try await EmbeddedCluster.start(options: options)
        defer { cluster.stop() }
        let admin = ConnectionPool(cluster.configuration, maxConnections: 2)
        try await ProductSchema.migrate(admin)
        try await admin.execute("CREATE TABLE runs (job_id bigint NOT NULL, attempt int NOT NULL, step text NOT NULL)")
        try await JobQueue.enqueueMany(kind: Noop.kind, payloads: ["{\"n\": 1}"], on: admin)

        let providerCalls = LockedValue(0)
        let transactionRuns = LockedValue(0)
        var registry = JobRegistry()
        registry.register(Noop.self) { _, context in
            // As a delivery does: a durable fenced step ("sending"), the call, then the outcome.
            try await context.fenced { tx in
                try await tx.execute("INSERT INTO runs VALUES (\(context.job.id), \(context.job.attempt), 'sending')")
            }
            providerCalls.withLock { $0 += 1 }
            try await context.complete { tx in
                let run = transactionRuns.withLock { $0 += 1; return $0 }
                try await tx.execute("INSERT INTO runs VALUES (\(context.job.id), \(context.job.attempt), 'sent')")
                // The first time, the server goes away with the transaction open: COMMIT cannot reach it.
                if run == 1 { try cluster.restart(mode: "immediate") }
            }
            return .done
        }
        let worker = RunningWorker(JobWorker(pool: ConnectionPool(cluster.configuration, maxConnections: 4),
                                             registry: registry, configuration: fastConfiguration(lease: .seconds(30))))
        let completed = await eventually(timeout: .seconds(30)) {
            (try? await admin.scalar("SELECT count(*)::int FROM job_history WHERE state = 'completed'", as: Int.self)) == 1
        }
        try await worker.stop()
        #expect(completed)
        #expect(providerCalls.current == 1, "the job ran again: its outcome was lost with the connection")
        #expect(transactionRuns.current == 2)
        #expect(try await admin.scalar("SELECT count(*)::int FROM runs WHERE step = 'sent' AND attempt = 1", as: Int.self) == 1)
        #expect(try await admin.scalar("SELECT count(*)::int FROM runs", as: Int.self) == 2)
        #expect(try await admin.scalar("SELECT attempt FROM job_history", as: Int.self) == 1)
        #expect(try await admin.scalar("SELECT count(*)::int FROM jobs", as: Int.self) == 0)
        await admin.close()
    }
}
