import Postgres

/// The queue's schema: `SQL/` beside this file (tables in numbered files, functions and
/// triggers in `R__jobs.sql`), compiled into the module by the EmbedSQL build plugin.
public enum JobsSchema {
    public static let line = MigrationLine.embedded(name: "jobs", files: EmbeddedSQL.files)
}
