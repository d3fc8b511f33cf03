import Foundation
import Logging
import Outbound
import EmbeddedPostgres
import Postgres
import Schema
import Server
import Testing
import TestSupport

/// `/healthz` and `/readyz` on a Postgres cluster of the test's own, which it stops and starts.
@Suite("Health") struct HealthTests {
    @Test("/readyz: unready before migrating, ready after; unready while Postgres is stopped, ready when it returns")
    func readiness() async throws {
        try await withTestScope { scope in
            let cluster = try await EmbeddedCluster.start()
            scope.onEnd { cluster.stop() }
            let pool = scope.closing(ConnectionPool(cluster.configuration, maxConnections: 4))
            let client = OutboundClient()
            scope.onEnd { client.shutdown() }
            let server = try await RunningServer.start(
                router: ServerApp.operationsRouter(pool: pool, readiness: Readiness(configured: ["providers": true], timeout: .seconds(2)),
                                                   logger: Logger(label: "test.health")),
                logger: Logger(label: "test.health"))
            scope.onEnd { await server.stop() }
            func get(_ path: String) async throws -> (status: Int, json: [String: Any]) {
                let response = try await client.send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)\(path)", timeout: .seconds(10)))
                let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
                return (response.status, json)
            }
            func check(_ json: [String: Any], _ name: String) -> Bool? {
                ((json["checks"] as? [String: Any])?[name] as? [String: Any])?["ok"] as? Bool
            }

            #expect(try await get("/healthz").status == 200)
            let empty = try await get("/readyz")
            #expect(empty.status == 503)
            #expect(check(empty.json, "database") == true)
            #expect(check(empty.json, "migrations") == false, "\(empty.json)")

            try await ProductSchema.migrate(pool)
            let ready = try await get("/readyz")
            #expect(ready.status == 200, "\(ready.json)")
            #expect(ready.json["ready"] as? Bool == true)
            #expect(check(ready.json, "providers") == true)

            try cluster.pause()
            let down = try await get("/readyz")
            #expect(down.status == 503)
            #expect(check(down.json, "database") == false, "\(down.json)")
            #expect(try await get("/healthz").status == 200, "alive while the database is down")

            try cluster.resume()
            let back = await eventually(timeout: .seconds(20), every: .milliseconds(200)) {
                (try? await get("/readyz").status) == 200
            }
            #expect(back)
        }
    }

    @Test("/readyz names an unconfigured requirement")
    func unconfigured() async throws {
        try await withTestScope { scope in
            let db = try await scope.database()
            // A generous timeout: this checks what is reported, not how fast, on a shared machine.
            let report = await Readiness(configured: ["providers": false], timeout: .seconds(30)).check(db.pool)
            #expect(!report.ready)
            #expect(report.checks["providers"]?.ok == false)
            #expect(report.checks["database"]?.ok == true)
            #expect(report.checks["migrations"]?.ok == true, "\(report.json)")
            #expect(report.json.contains(#""ready":false"#))
        }
    }
}
