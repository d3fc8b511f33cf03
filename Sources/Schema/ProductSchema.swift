import FollowUp
import Jobs
import Logging
import Postgres
import Wallet

/// The product's whole schema: each module's migration line, in dependency order, then the
/// privileges (`SQL/R__privileges.sql` beside this file) — and the database roles it needs.
///
/// Every object is created as `followup_owner`, whoever runs `followup migrate`; the other group
/// roles get exactly the rights docs/security.md lists.
public enum ProductSchema {
    public static let owner = "followup_owner"
    /// The group roles (NOLOGIN); real logins are granted one of them.
    public static let roles = ["followup_owner", "followup_poller", "followup_app", "followup_operator", "followup_finance"]

    public static let privileges = MigrationLine.embedded(name: "privileges", files: EmbeddedSQL.files)

    /// The product's sessions resolve no function or operator through `public`, where a role
    /// with CREATE there could plant one; every object of ours is written with its schema
    /// (docs/security.md). `migrate` creates objects in `public`, so it keeps the default.
    public static let sessionSearchPath = "pg_catalog, pg_temp"

    /// Creates (or updates) a login that is a member of `group` only, with `password`: the demo's
    /// and the tests' logins for each role. Identifiers and the password cannot be bound, so
    /// both must be built by the caller from fixed names and hex digits only.
    public static func createLogin(_ login: String, in group: String, password: String, on db: some Queryable) async throws {
        _ = try await db.query(Query(sql: """
            DO $$ BEGIN CREATE ROLE \(login) LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$
            """))
        _ = try await db.query(Query(sql: "ALTER ROLE \(login) LOGIN PASSWORD '\(password)'"))
        _ = try await db.query(Query(sql: "GRANT \(group) TO \(login)"))
    }

    /// Jobs first (the follow-up triggers enqueue jobs), then the app contract and follow-ups, the
    /// wallet (wallets belong to channels, holds to deliveries), and the grants over all of them.
    public static var lines: [MigrationLine] {
        [JobsSchema.line, FollowUpSchema.line, WalletSchema.line, privileges]
    }

    /// Checks (and, where this login may, creates) the roles and rights migrating needs, then
    /// applies what is pending as `followup_owner`. When something needs an administrator, throws
    /// `SetupNeeded` listing every statement to run, and changes nothing.
    @discardableResult
    public static func migrate(_ pool: ConnectionPool, logger: Logger = Logger(label: "followup.migrate")) async throws -> [Migrator.Applied] {
        try await pool.withConnection { connection in try await RoleSetup(connection: connection).run() }
        return try await Migrator(lines: lines, role: owner, logger: logger).migrate(pool)
    }
}

/// What an administrator must run before `followup migrate` can: every statement at once.
public struct SetupNeeded: Error, CustomStringConvertible {
    public var statements: [String]

    public var description: String {
        """
        followup migrate needs rights this login does not have. Ask an administrator (a superuser, \
        or a role with CREATEROLE that owns this database) to run:

        \(statements.map { "    \($0);" }.joined(separator: "\n"))

        then run followup migrate again. docs/security.md explains each role.
        """
    }
}
