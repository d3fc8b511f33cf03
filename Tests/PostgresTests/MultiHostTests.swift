import Foundation
import EmbeddedPostgres
import Postgres
import Testing
import TestSupport

/// A multi-host URL (`postgresql://h1:p1,h2:p2/db?target_session_attrs=read-write`): libpq tries
/// the hosts in order and keeps the first writable one. The pool must pass such a URL through
/// untouched and, after a failover, find the promoted standby on its own.
@Suite("Multi-host URLs and failover")
struct MultiHostTests {
    static let url = "postgresql://app:s3cret@db1.internal:5432,db2.internal:5433/followup?target_session_attrs=read-write&sslmode=prefer"

    @Test("a multi-host URL parses, and another database or login keeps every host, port and target_session_attrs")
    func parses() throws {
        let configuration = try PostgresConfiguration(Self.url)
        #expect(configuration.connectionString == Self.url)
        for derived in [try configuration.database("other"), try configuration.login("followup_poller", password: "pw")] {
            let text = derived.connectionString
            #expect(text.contains("host='db1.internal,db2.internal'"), "\(text)")
            #expect(text.contains("port='5432,5433'"), "\(text)")
            #expect(text.contains("target_session_attrs='read-write'"), "\(text)")
            #expect(text.contains("sslmode='prefer'"), "\(text)")
        }
        #expect(try configuration.database("other").connectionString.contains("dbname='other'"))
    }

    @Test("a bad target_session_attrs is a configuration error, not a server to wait for")
    func badAttribute() async throws {
        let configuration = try PostgresConfiguration("postgresql://x@127.0.0.1:1,127.0.0.1:2/db?target_session_attrs=writable", connectTimeout: 2)
        let error = try await #require(throws: PostgresError.self) { try await Connection.connect(configuration) }
        #expect(error.isConfigurationError, "\(error)")
        #expect(!error.isConnectionError)
    }

    @Test("the pool skips a standby and a dead host for the primary, and follows a failover to the promoted standby")
    func followsFailover() async throws {
        var options = EmbeddedCluster.Options()
        options.extraSettings["synchronous_commit"] = "on"
        let primary = try await EmbeddedCluster.start(options: options)
        defer { primary.stop() }
        let standby = try await primary.startStandby()
        defer { standby.stop() }
        try await primary.makeStandbysSynchronous()
        let dead = try deadPort()

        // The standby first: a read-write session is refused there and made on the primary.
        let url = "postgresql://followup@127.0.0.1:\(dead),127.0.0.1:\(standby.port),127.0.0.1:\(primary.port)/postgres?target_session_attrs=read-write&connect_timeout=2"
        let pool = ConnectionPool(try PostgresConfiguration(url), maxConnections: 3)
        #expect(try await pool.scalar("SELECT current_setting('port')::int", as: Int.self) == primary.port)
        try await pool.execute("CREATE TABLE marks (n int)")
        try await pool.execute("INSERT INTO marks VALUES (1)")
        // Without the attribute, the first host that answers is taken: the standby, read-only.
        let anyURL = "postgresql://followup@127.0.0.1:\(standby.port),127.0.0.1:\(primary.port)/postgres"
        let reader = try await Connection.connect(try PostgresConfiguration(anyURL))
        #expect(try await reader.query("SELECT pg_is_in_recovery()").first?.decode(Bool.self, at: 0) == true)
        reader.close()

        // Every connection of the pool is borrowed, so each one breaks under it.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { try await pool.execute("SELECT pg_sleep(0.2)") } }
            try await group.waitForAll()
        }
        try primary.pause(mode: "immediate")
        let failed = await #expect(throws: PostgresError.self) { try await pool.execute("INSERT INTO marks VALUES (2)") }
        #expect(failed?.isConnectionError == true, "\(String(describing: failed))")
        try standby.promote()

        // The pool dropped the broken connections; new ones land on the promoted standby, which
        // has every committed row (synchronous replication).
        let recovered = await eventually(timeout: .seconds(20)) {
            (try? await pool.execute("INSERT INTO marks VALUES (3)")) != nil
        }
        #expect(recovered)
        #expect(try await pool.scalar("SELECT current_setting('port')::int", as: Int.self) == standby.port)
        #expect(try await pool.scalar("SELECT string_agg(n::text, ',' ORDER BY n) FROM marks", as: String.self) == "1,3")
        #expect(await pool.openConnections <= 3)
        await pool.close()
    }

    /// A loopback port nothing listens on (bound, then closed).
    private func deadPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
