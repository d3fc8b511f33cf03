import Postgres

/// The SMS wallet's ledger and the finance views: `SQL/` beside this file, compiled into the
/// module by the EmbedSQL build plugin. Migrate it after `FollowUpSchema.line` (wallets belong
/// to channels, holds to deliveries).
public enum WalletSchema {
    public static let line = MigrationLine.embedded(name: "wallet", files: EmbeddedSQL.files)
}
