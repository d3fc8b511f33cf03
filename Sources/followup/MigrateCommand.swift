import ArgumentParser
import Postgres
import Schema

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or update the schema (safe to run from several processes at once).",
        discussion: "Applies the numbered files in migrations/sql in order, each in a transaction, under an advisory lock. A file edited after it was applied is an error.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap()
        let applied = try await database.withPool { pool in
            try await Migrator(try Migration.load(from: Schema.directory)).migrate(pool)
        }
        print(applied.isEmpty ? "schema is up to date" : applied.map { "applied \($0.version) \($0.name)" }.joined(separator: "\n"))
    }
}
