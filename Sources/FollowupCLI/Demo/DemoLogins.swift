import Foundation
import Postgres
import Schema

/// The demo's database logins, as a deployment has them (docs/security.md): the poller logs in
/// as a member of `followup_poller` only and the app as a member of `followup_app` only. Made
/// when the login the demo started with may create roles (the embedded Postgres always can);
/// otherwise both use that login, and the demo says so.
struct DemoLogins {
    let poller: PostgresConfiguration
    let app: PostgresConfiguration
    /// A person at the status page (`--status-port`): a member of `followup_operator`.
    let `operator`: PostgresConfiguration
    let separate: Bool

    static func make(_ admin: PostgresConfiguration, on pool: ConnectionPool) async throws -> DemoLogins {
        var samePoller = admin
        samePoller.searchPath = DatabaseOptions.productSearchPath
        guard try await pool.scalar("SELECT rolsuper OR rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user", as: Bool.self) else {
            return DemoLogins(poller: samePoller, app: admin, operator: samePoller, separate: false)
        }
        // Role names and the password cannot be bound: fixed names, and hex digits only.
        let password = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        for (login, group) in [("followup_demo_poller", "followup_poller"), ("followup_demo_app", "followup_app"),
                               ("followup_demo_operator", "followup_operator")] {
            try await ProductSchema.createLogin(login, in: group, password: password, on: pool)
        }
        var poller = try admin.login("followup_demo_poller", password: password)
        poller.searchPath = DatabaseOptions.productSearchPath
        var person = try admin.login("followup_demo_operator", password: password)
        person.searchPath = DatabaseOptions.productSearchPath
        return DemoLogins(poller: poller, app: try admin.login("followup_demo_app", password: password), operator: person, separate: true)
    }
}
