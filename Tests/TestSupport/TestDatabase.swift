import Foundation
import EmbeddedPostgres
import Postgres
import Schema

/// One Postgres cluster per test process (embedded, or the server `DATABASE_URL` names), a
/// template database migrated once, and a fresh copy of it for every test — so tests run in
/// parallel and never see each other's rows.
public struct TestDatabase: Sendable {
    public let name: String
    public let configuration: PostgresConfiguration
    public let pool: ConnectionPool

    /// A new, migrated, empty database of its own.
    public static func fresh(maxConnections: Int = 8) async throws -> TestDatabase {
        let server = try await SharedServer.shared.ready()
        let name = "test_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        let admin = try await Connection.connect(server.admin)
        defer { admin.close() }
        // Identifiers cannot be bound; `name` is generated above from hex digits only.
        _ = try await admin.query(Query(sql: "CREATE DATABASE \(name) TEMPLATE \(SharedServer.template)"))
        let configuration = try server.admin.database(name)
        return TestDatabase(name: name, configuration: configuration,
                            pool: ConnectionPool(configuration, maxConnections: maxConnections))
    }

    /// A second pool on the same database (as another process would have).
    public func anotherPool(maxConnections: Int = 8) -> ConnectionPool {
        ConnectionPool(configuration, maxConnections: maxConnections)
    }

    /// A pool logged in as a member of one group role only (docs/security.md): the poller's,
    /// the app's, an operator's or finance's login, as a real deployment has them.
    public func pool(as login: TestLogin, maxConnections: Int = 8) async throws -> ConnectionPool {
        ConnectionPool(try await configuration(as: login), maxConnections: maxConnections)
    }

    /// Where `login` connects to this database. The poller's sessions pin their search path, as
    /// `followup run` does (docs/security.md); the others keep the server's default, as an app would.
    public func configuration(as login: TestLogin) async throws -> PostgresConfiguration {
        var configuration = try configuration.login(login.user, password: try await SharedServer.shared.ready().loginPassword)
        if login == .poller { configuration.searchPath = ProductSchema.sessionSearchPath }
        return configuration
    }

    /// The TCP URL of this database, for psql and subprocesses.
    public var url: String {
        get async throws { try await SharedServer.shared.ready().urlFor(name) }
    }
}

/// The logins tests use to act as each group role (created once per cluster).
public enum TestLogin: String, CaseIterable, Sendable {
    case poller, app, `operator`, finance

    /// The group role this login is a member of, and nothing else.
    public var group: String { "followup_\(rawValue)" }
    public var user: String { "followup_test_\(rawValue)" }
}

/// Starts the cluster and the migrated template once per process.
actor SharedServer {
    static let shared = SharedServer()
    static let template = "followup_template"

    struct Ready: Sendable {
        let admin: PostgresConfiguration
        let urlFor: @Sendable (String) -> String
        /// The password of every test login (for servers that ask for one).
        let loginPassword: String
    }

    private var ready: Ready?
    private var cluster: EmbeddedCluster?
    private var starting: Task<Ready, Error>?

    func ready() async throws -> Ready {
        if let ready { return ready }
        if let starting { return try await starting.value }
        let task = Task { try await Self.start() }
        starting = task
        let (result) = try await task.value
        ready = result
        return result
    }

    private static func start() async throws -> Ready {
        let admin: PostgresConfiguration
        let urlFor: @Sendable (String) -> String
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty {
            admin = try PostgresConfiguration(url)
            let base = admin
            urlFor = { name in (try? base.database(name).connectionString) ?? url }
        } else {
            // Every test gets its own database and pools, kept until the process ends: room for all.
            var options = EmbeddedCluster.Options()
            options.maxConnections = 1000
            let cluster = try await EmbeddedCluster.start(options: options)
            admin = cluster.configuration
            urlFor = { cluster.url(database: $0) }
            Keeper.cluster = cluster
        }
        let connection = try await Connection.connect(admin)
        defer { connection.close() }
        _ = try await connection.query(Query(sql: "DROP DATABASE IF EXISTS \(template)"))
        _ = try await connection.query(Query(sql: "CREATE DATABASE \(template)"))
        let templatePool = ConnectionPool(try admin.database(template), maxConnections: 1)
        try await ProductSchema.migrate(templatePool)
        await templatePool.close()
        // One login per group role. Identifiers and the password cannot be bound; both are
        // built here from fixed names and hex digits only.
        let password = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        for login in TestLogin.allCases {
            try await ProductSchema.createLogin(login.user, in: login.group, password: password, on: connection)
        }
        return Ready(admin: admin, urlFor: urlFor, loginPassword: password)
    }
}

/// Keeps the embedded cluster alive for the whole test process; its watchdog stops it after.
enum Keeper {
    // Written once, by SharedServer's actor-serialized start, and only read for its lifetime.
    nonisolated(unsafe) static var cluster: EmbeddedCluster?
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20),
                       _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}
