import ArgumentParser
import Postgres
import Schema

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or update the schema (safe to run from several processes at once).",
        discussion: """
            Applies each module's numbered migrations (tables and data) in order, each in a transaction, then its \
            repeatable scripts (functions, views, triggers, grants) whenever their text changed — all under an advisory \
            lock, as the followup_owner role. Creates the five followup_* group roles when this login may \
            (CREATEROLE); otherwise prints the statements an administrator must run. A numbered file edited after \
            it was applied is an error. See docs/security.md.
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap()
        let applied = try await database.withPool(productSession: false) { pool in
            try await ProductSchema.migrate(pool)
        }
        print(applied.isEmpty ? "schema is up to date" : applied.map { "applied \($0.description)" }.joined(separator: "\n"))
    }
}
