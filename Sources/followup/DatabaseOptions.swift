import ArgumentParser
import Foundation
import Postgres

/// The database options every command shares.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"),
            help: ArgumentHelp("Postgres URL or conninfo (default: $DATABASE_URL).", valueName: "url"))
    var databaseURL: String?

    @Option(help: "Connections this process may open.")
    var maxConnections: Int = 20

    @Flag(help: "Do not prepare statements (for transaction-mode PgBouncer older than 1.21).")
    var noPreparedStatements = false

    /// The product's sessions resolve no function or operator through `public`, where a role
    /// with CREATE there could plant one; every object of ours is written with its schema
    /// (docs/security.md). `migrate` creates objects in `public`, so it keeps the default.
    static let productSearchPath = "pg_catalog, pg_temp"

    /// The URL from the flag or the environment; a clear error when neither is set.
    /// `productSession`: pin the search path (every command but `migrate` and the benchmarks).
    func configuration(productSession: Bool = true) throws -> PostgresConfiguration {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            throw ValidationError("no database: pass --database-url or set DATABASE_URL (or try `followup demo`, which starts a Postgres of its own)")
        }
        do {
            var configuration = try PostgresConfiguration(url)
            configuration.preparedStatements = !noPreparedStatements
            if productSession { configuration.searchPath = Self.productSearchPath }
            return configuration
        } catch let error as PostgresError {
            throw ValidationError(error.message)
        }
    }

    func pool(productSession: Bool = true) async throws -> ConnectionPool {
        ConnectionPool(try configuration(productSession: productSession), maxConnections: maxConnections)
    }

    /// Runs `body` with a pool that is closed when it returns or throws.
    func withPool<T>(productSession: Bool = true, _ body: (ConnectionPool) async throws -> T) async throws -> T {
        let pool = try await pool(productSession: productSession)
        do {
            let result = try await body(pool)
            await pool.close()
            return result
        } catch {
            await pool.close()
            throw error
        }
    }

    var isSet: Bool { databaseURL != nil || !(ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "").isEmpty }
}
