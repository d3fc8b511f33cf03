import Foundation
import EmbeddedPostgres
import Postgres
import Testing
import TestSupport

@Suite("Surviving a server restart")
struct RestartTests {
    @Test("the pool and a listener reconnect after Postgres restarts")
    func reconnect() async throws {
        // A cluster of its own: restarting the shared one would disturb other tests.
        let cluster = try await EmbeddedCluster.start()
        defer { cluster.stop() }
        let pool = ConnectionPool(cluster.configuration, maxConnections: 4)
        #expect(try await pool.scalar("SELECT 1", as: Int.self) == 1)
        let listener = Listener(cluster.configuration, channels: ["ping"])
        defer { listener.stop() }
        var events = listener.events.makeAsyncIterator()
        #expect(await events.next() == .listening)

        try cluster.restart()

        // The first use of a stale connection may fail; the pool drops it and the next succeeds.
        let recovered = await eventually(timeout: .seconds(15)) {
            (try? await pool.scalar("SELECT 2", as: Int.self)) == 2
        }
        #expect(recovered)
        #expect(await events.next() == .listening)
        try await pool.execute("SELECT pg_notify('ping', 'after restart')")
        #expect(await events.next() == .notification(PostgresNotification(channel: "ping", payload: "after restart")))
    }
}
