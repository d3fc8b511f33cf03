import Foundation
import Jobs
import Postgres
import Testing
import TestSupport

@Suite("Enqueue")
struct EnqueueTests {
    @Test("a job enqueued in a transaction exists iff the transaction commits")
    func transactional() async throws {
        let db = try await TestDatabase.fresh()
        struct Rollback: Error {}
        await #expect(throws: Rollback.self) {
            try await db.pool.withTransaction { tx in
                try await JobQueue.enqueue(Noop(n: 1), on: tx)
                throw Rollback()
            }
        }
        #expect(try await count(db, "SELECT count(*)::int FROM jobs") == 0)
        try await db.pool.withTransaction { tx in try await JobQueue.enqueue(Noop(n: 2), on: tx) }
        #expect(try await count(db, "SELECT count(*)::int FROM jobs WHERE kind = 'test.noop' AND payload->>'n' = '2'") == 1)
    }

    @Test("plain SQL enqueues too, via jobs_enqueue or INSERT, and wakes listeners")
    func fromSQL() async throws {
        let db = try await TestDatabase.fresh()
        let listener = Listener(db.configuration, channels: ["jobs"])
        defer { listener.stop() }
        var events = listener.events.makeAsyncIterator()
        #expect(await events.next() == .listening)
        try await db.pool.execute("SELECT jobs_enqueue('test.noop', '{\"n\": 1}', queue => 'mail')")
        #expect(await events.next() == .notification(PostgresNotification(channel: "jobs", payload: "mail")))
        try await db.pool.execute("INSERT INTO jobs (kind, payload) VALUES ('test.noop', '{\"n\": 2}'), ('test.noop', '{\"n\": 3}')")
        #expect(await events.next() == .notification(PostgresNotification(channel: "jobs", payload: "default")))
        #expect(try await count(db, "SELECT count(*)::int FROM jobs WHERE state = 'available'") == 3)
    }

    @Test("unique jobs: concurrent inserts of one key leave one live job; a rolled-back insert leaves nothing")
    func unique() async throws {
        let db = try await TestDatabase.fresh(maxConnections: 16)
        let ids = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for i in 0..<16 {
                group.addTask {
                    try await JobQueue.enqueue(Noop(n: i), options: EnqueueOptions(uniqueKey: "check:42"), on: db.pool)
                }
            }
            return try await group.reduce(into: [Int64]()) { if let id = $1 { $0.append(id) } }
        }
        #expect(ids.count == 1)
        #expect(try await count(db, "SELECT count(*)::int FROM jobs WHERE unique_key = 'check:42'") == 1)

        struct Rollback: Error {}
        await #expect(throws: Rollback.self) {
            try await db.pool.withTransaction { tx in
                #expect(try await JobQueue.enqueue(Noop(n: 0), options: EnqueueOptions(uniqueKey: "check:7"), on: tx) != nil)
                throw Rollback()
            }
        }
        #expect(try await JobQueue.enqueue(Noop(n: 0), options: EnqueueOptions(uniqueKey: "check:7"), on: db.pool) != nil)
        // Once the live job is finished (here: dead; a completed one leaves `jobs`), the key is free again.
        try await db.pool.execute("UPDATE jobs SET state = 'dead', finished_at = now() WHERE unique_key = 'check:42'")
        #expect(try await JobQueue.enqueue(Noop(n: 0), options: EnqueueOptions(uniqueKey: "check:42"), on: db.pool) != nil)
    }

    @Test("the claim reads due rows through the partial index, not the 100,000 scheduled later")
    func claimUsesIndex() async throws {
        let db = try await TestDatabase.fresh()
        try await db.pool.execute("""
            INSERT INTO jobs (kind, run_at) SELECT 'test.noop', now() + interval '1 hour' + g * interval '1 ms'
            FROM generate_series(1, 100000) g
            """)
        try await db.pool.execute("INSERT INTO jobs (kind) VALUES ('test.noop')")
        try await db.pool.execute("ANALYZE jobs")
        let plan = try await db.pool.query("""
            EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT)
            SELECT c.id FROM unnest('{1,2,3,4}'::smallint[]) AS level(priority)
            CROSS JOIN LATERAL (SELECT id FROM jobs WHERE state = 'available' AND queue = 'default'
                AND priority = level.priority AND run_at <= now() ORDER BY run_at, id LIMIT 10 FOR UPDATE SKIP LOCKED) c
            LIMIT 10
            """).map { try $0.decode(String.self, at: 0) }.joined(separator: "\n")
        #expect(plan.contains("jobs_claim_idx"))
        // A scan that walked the scheduled rows would touch hundreds of buffers.
        // Execution only: the lines after "Planning:" count catalog reads, which vary with the session's caches.
        let buffers = plan.split(separator: "\n").prefix { !$0.contains("Planning") }.compactMap { line -> Int? in
            guard let range = line.range(of: "shared hit=") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }.max() ?? 0
        #expect(buffers < 100, "claim touched \(buffers) buffers:\n\(plan)")
    }
}
