import Hummingbird
import Postgres

/// `GET /healthz`: the process is alive (200, no database involved — restart it if this fails).
/// `GET /readyz`: ready for work (``Readiness``): 200 or 503, with a JSON body naming each check,
/// e.g. `{"checks":{"database":{"ok":true},"migrations":{"ok":true},…},"ready":true}`.
struct HealthRoutes: Sendable {
    let pool: ConnectionPool
    let readiness: Readiness

    func add(to router: Router<ServerApp.ServerContext>) {
        router.get("/healthz") { _, _ in
            Response.text(.ok, #"{"alive":true}"#, type: "application/json")
        }
        router.get("/readyz") { _, _ in
            let report = await readiness.check(pool)
            return Response.text(report.ready ? .ok : .serviceUnavailable, report.json, type: "application/json")
        }
    }
}
