import ArgumentParser
import Foundation
import Postgres
import Schema

/// The database options every command shares.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"),
            help: ArgumentHelp("Postgres URL or conninfo (default: $DATABASE_URL).", valueName: "url"))
    var databaseURL: String?

    @Option(help: "Connections this process may open.")
    var maxConnections: Int = 20

    @Flag(help: "Behind a transaction-mode pooler (PgBouncer without max_prepared_statements): unnamed statements, the search path set per transaction, no LISTEN (also FOLLOWUP_NO_PREPARED_STATEMENTS=1).")
    var noPreparedStatements = false

    /// `ProductSchema.sessionSearchPath`, for every command but `migrate` and the benchmarks.
    static let productSearchPath = ProductSchema.sessionSearchPath

    @Option(name: .customLong("config"),
            help: ArgumentHelp("A settings file: NAME=value lines named like the variables, which win over it (docs/configuration.md).", valueName: "file"))
    var configFile: String?

    /// DATABASE_URL from the environment, else from the `--config` file.
    private var urlFromSettings: String? { setting("DATABASE_URL") }

    /// A setting from the environment, else from the `--config` file.
    private func setting(_ name: String) -> String? {
        if let value = ProcessInfo.processInfo.environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty { return value }
        guard let configFile else { return nil }
        return ConfigFile.read(path: configFile, known: SettingsCatalog.names).values[name]
    }

    /// `--no-prepared-statements`, or FOLLOWUP_NO_PREPARED_STATEMENTS=1 in the environment or the `--config` file.
    var preparedStatements: Bool {
        !noPreparedStatements && !SettingsCatalog.isOn(setting("FOLLOWUP_NO_PREPARED_STATEMENTS"))
    }

    /// The URL from the flag, the environment or the `--config` file. A configuration problem
    /// (an unreadable or malformed file, no URL, a bad one) is printed in one message, without
    /// the usage text, and exits 78, as `followup run` does.
    /// `productSession`: pin the search path (every command but `migrate` and the benchmarks).
    func configuration(productSession: Bool = true) throws -> PostgresConfiguration {
        var problems = configFile.map { ConfigFile.read(path: $0, known: SettingsCatalog.names).problems } ?? []
        var configuration: PostgresConfiguration?
        if let url = databaseURL ?? urlFromSettings, !url.isEmpty {
            do {
                configuration = try PostgresConfiguration(url)
                configuration?.preparedStatements = preparedStatements
                if productSession { configuration?.searchPath = Self.productSearchPath }
            } catch let error as PostgresError {
                problems.append("DATABASE_URL: \(error.message)")
            }
        } else {
            problems.append("no database: pass --database-url, set DATABASE_URL or put it in --config FILE (or try `followup demo`, which starts a Postgres of its own)")
        }
        guard let configuration, problems.isEmpty else {
            FileHandle.standardError.write(Data(problems.map { "followup: \($0)\n" }.joined().utf8))
            throw exitConfigurationError
        }
        return configuration
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

    var isSet: Bool { databaseURL != nil || urlFromSettings != nil }
}
