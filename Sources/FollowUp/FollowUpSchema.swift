import Postgres

/// The app's SQL contract and the follow-ups' own tables: `SQL/` beside this file, compiled
/// into the module by the EmbedSQL build plugin. Migrate it after `JobsSchema.line` (its
/// triggers enqueue jobs).
public enum FollowUpSchema {
    public static let line = MigrationLine.embedded(name: "followup", files: EmbeddedSQL.files)
}
