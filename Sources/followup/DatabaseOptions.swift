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

    /// The URL from the flag or the environment; a clear error when neither is set.
    func configuration() throws -> PostgresConfiguration {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            throw ValidationError("no database: pass --database-url or set DATABASE_URL (or try `followup demo`, which starts a Postgres of its own)")
        }
        do {
            var configuration = try PostgresConfiguration(url)
            configuration.preparedStatements = !noPreparedStatements
            return configuration
        } catch let error as PostgresError {
            throw ValidationError(error.message)
        }
    }

    func pool() async throws -> ConnectionPool {
        ConnectionPool(try configuration(), maxConnections: maxConnections)
    }

    /// Runs `body` with a pool that is closed when it returns or throws.
    func withPool<T>(_ body: (ConnectionPool) async throws -> T) async throws -> T {
        let pool = try await pool()
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
