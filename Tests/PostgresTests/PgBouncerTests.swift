import Foundation
import Postgres
import Testing
import TestSupport

/// The client behind Debian's PgBouncer in transaction mode (four server sessions per database and
/// login, shared by every client connection): docs/postgres-client.md.
@Suite("Behind PgBouncer in transaction mode")
struct PgBouncerTests {
    @Test("without the pooler mode, the poller's login fails fast, naming the flag")
    func productSessionRefused() async throws {
        try await withTestScope { scope in
            let db = try await TestDatabase.fresh()
            let configuration = try await db.configurationThroughPgBouncer(as: .poller)
            #expect(configuration.preparedStatements)
            let pool = scope.closing(ConnectionPool(configuration, maxConnections: 4))
            let started = ContinuousClock.now
            let error = await #expect(throws: PostgresError.self) { try await pool.scalar("SELECT \(1)::int", as: Int.self) }
            #expect(error?.code == .sessionPooler)
            #expect(error?.message.contains("--no-prepared-statements") == true, "\(String(describing: error))")
            #expect(error?.isConfigurationError == true, "not retried")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test("without the pooler mode, a pool sees that two client connections share one server session")
    func sharedSessionsRefused() async throws {
        try await withTestScope { scope in
            let db = try await TestDatabase.fresh()
            let configuration = try await db.configurationThroughPgBouncer()  // no search path: the startup packet passes
            let pool = scope.closing(ConnectionPool(configuration, maxConnections: 4))
            let error = await #expect(throws: PostgresError.self) { try await pool.scalar("SELECT \(1)::int", as: Int.self) }
            #expect(error?.code == .sessionPooler)
            #expect(error?.message.contains("--no-prepared-statements") == true, "\(String(describing: error))")
            // Nothing was prepared on any server session.
            #expect(try await db.pool.scalar("SELECT count(*)::int FROM pg_prepared_statements", as: Int.self) == 0)
        }
    }

    @Test("a statement prepared on another session is never run: it fails naming the flag")
    func vanishedStatement() async throws {
        let db = try await TestDatabase.fresh()
        // A connection past the pool's check (as if the pooler had been busy then).
        let connection = try await Connection.connect(try await db.configurationThroughPgBouncer())
        defer { connection.close() }
        // Hold the server session the statement gets prepared on, so the next transaction gets the other one.
        #expect(try await connection.scalar("SELECT \(1)::int", as: Int.self) == 1)
        let holder = try await Connection.connect(try await db.configurationThroughPgBouncer())
        defer { holder.close() }
        let error: PostgresError? = try await holder.withTransaction { tx in
            _ = try await tx.query("SELECT pg_catalog.pg_backend_pid()")  // takes a server session for the transaction
            return await #expect(throws: PostgresError.self) { try await connection.scalar("SELECT \(2)::int", as: Int.self) }
        }
        #expect(error?.code == .sessionPooler)
        #expect(error?.message.contains("--no-prepared-statements") == true, "\(String(describing: error))")
    }

    @Test("in the pooler mode: unnamed statements, the search path pinned per transaction, transactions intact")
    func poolerMode() async throws {
        try await withTestScope { scope in
            let db = try await TestDatabase.fresh()
            try await db.pool.execute("CREATE TABLE public.counter (id int PRIMARY KEY, n int NOT NULL)")
            try await db.pool.execute("INSERT INTO public.counter VALUES (1, 0)")
            var configuration = try await db.configurationThroughPgBouncer(as: .poller)
            configuration.preparedStatements = false
            #expect(!configuration.supportsListen)
            try await db.pool.execute("GRANT SELECT, UPDATE ON public.counter TO followup_test_poller")
            let pool = scope.closing(ConnectionPool(configuration, maxConnections: 8))

            // Another client of the pooler leaves a session-level search path on a server session.
            var plain = try await db.configurationThroughPgBouncer(as: .poller)
            plain.preparedStatements = false
            plain.searchPath = nil
            let other = try await Connection.connect(plain)
            defer { other.close() }
            _ = try await other.query("SET search_path = public")

            // 8 client connections, at most 4 server sessions: 200 increments, each in its own transaction.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<200 {
                    group.addTask {
                        try await pool.withTransaction { tx in
                            #expect(try await tx.scalar("SELECT pg_catalog.current_setting(\("search_path"))", as: String.self) == "pg_catalog, pg_temp")
                            let n = try await tx.scalar("SELECT n FROM public.counter WHERE id = \(1) FOR UPDATE", as: Int.self)
                            tx.queue("UPDATE public.counter SET n = \(n + 1) WHERE id = \(1)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await db.pool.scalar("SELECT n FROM public.counter", as: Int.self) == 200)
            // A rolled-back transaction leaves nothing behind.
            await #expect(throws: PostgresError.self) {
                try await pool.withTransaction { tx in
                    try await tx.execute("UPDATE public.counter SET n = 0 WHERE id = \(1)")
                    try await tx.execute("SELECT 1/0")
                }
            }
            #expect(try await pool.scalar("SELECT n FROM public.counter WHERE id = \(1)", as: Int.self) == 200)
            #expect(try await db.pool.scalar("SELECT count(*)::int FROM pg_prepared_statements", as: Int.self) == 0)
            #expect(try await db.pool.scalar("SELECT count(*)::int FROM pg_catalog.pg_stat_activity WHERE datname = current_database() AND usename = 'followup_test_poller'", as: Int.self) <= 4,
                    "nine clients really shared the pooler's four server sessions")
        }
    }
}
