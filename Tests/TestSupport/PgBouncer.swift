import EmbeddedPostgres
import Foundation
import Postgres
import Schema

/// One PgBouncer per test process, in transaction mode, in front of the shared test server
/// (docs/postgres-client.md): for the tests of the client's pooler mode.
actor SharedPgBouncer {
    static let shared = SharedPgBouncer()
    private var bouncer: EmbeddedPgBouncer?

    func ready() async throws -> EmbeddedPgBouncer {
        if let bouncer { return bouncer }
        let server = try await SharedServer.shared.ready()
        guard let host = server.admin.parameter("host"), let port = server.admin.parameter("port").flatMap(Int.init) else {
            throw PostgresError(code: .invalidConfiguration, message: "the test server's URL names no host and port for PgBouncer")
        }
        let admin = server.admin.parameter("user") ?? "followup"
        let started = try EmbeddedPgBouncer(serverHost: host, serverPort: port, users: [admin] + TestLogin.allCases.map(\.user))
        bouncer = started
        return started
    }
}

extension TestDatabase {
    /// Where this database is reached through the shared transaction-mode PgBouncer, as the
    /// admin or as `login` (the poller's login pins its search path, as `followup run` does).
    /// `preparedStatements` is left on: set it off for the pooler mode.
    public func configurationThroughPgBouncer(as login: TestLogin? = nil) async throws -> PostgresConfiguration {
        let bouncer = try await SharedPgBouncer.shared.ready()
        let server = try await SharedServer.shared.ready()
        let user = login?.user ?? server.admin.parameter("user") ?? "followup"
        var configuration = try PostgresConfiguration(bouncer.url(database: name, user: user), applicationName: "followup-test")
        if let login { configuration = try configuration.login(login.user, password: server.loginPassword) }
        if login == .poller { configuration.searchPath = ProductSchema.sessionSearchPath }
        return configuration
    }
}
