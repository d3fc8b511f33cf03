import Foundation
import Logging

/// One numbered schema change: `0003_wallet.sql` is version 3, named "wallet".
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads every `NNNN_name.sql` in a directory, in version order. Two files with one number is an error.
    public static func load(from directory: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
        var migrations: [Migration] = []
        for file in files {
            let stem = file.deletingPathExtension().lastPathComponent
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw PostgresError(code: .invalidConfiguration, message: "migration file \(file.lastPathComponent) must be named NNNN_name.sql")
            }
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]),
                                        sql: try String(contentsOf: file, encoding: .utf8)))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw PostgresError(code: .invalidConfiguration, message: "two migrations are numbered \(a.version): \(a.name) and \(b.name)")
        }
        return migrations
    }
}

/// Applies migrations in order, each in its own transaction, recorded in `schema_migrations`
/// with the md5 of its text.
///
/// Every transaction first takes a transaction-scoped advisory lock, so two processes migrating
/// at once take turns and the second finds the work done. A file whose text changed after it was
/// applied is an error, never a silent skip: fix forward with a new file instead.
public struct Migrator: Sendable {
    public struct Applied: Sendable, Equatable {
        public var version: Int
        public var name: String
    }

    public let migrations: [Migration]
    private let logger: Logger
    /// Arbitrary, fixed: the advisory lock key every migrator agrees on.
    static let lockKey: Int64 = 0x666F_6C6C_6F77_7570

    public init(_ migrations: [Migration], logger: Logger = Logger(label: "followup.migrate")) {
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies what is pending; returns what this call applied.
    @discardableResult
    public func migrate(_ pool: ConnectionPool) async throws -> [Applied] {
        try await pool.withConnection { connection in
            try await connection.withTransaction { tx in
                try await lock(tx)
                try await tx.execute("""
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version    integer PRIMARY KEY,
                        name       text NOT NULL,
                        checksum   text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())
                    """)
            }
            var applied: [Applied] = []
            for migration in migrations {
                let didApply = try await connection.withTransaction { tx -> Bool in
                    try await lock(tx)
                    let checksum = try await tx.scalar("SELECT md5(\(migration.sql))", as: String.self)
                    if let row = try await tx.first("SELECT checksum FROM schema_migrations WHERE version = \(migration.version)") {
                        let recorded = try row.decode(String.self, at: 0)
                        guard recorded == checksum else {
                            throw PostgresError(code: .invalidConfiguration, message:
                                "migration \(migration.version)_\(migration.name) was edited after it was applied (checksum \(recorded) in the database, \(checksum) on disk); restore the file and add a new migration instead")
                        }
                        return false
                    }
                    try await tx.connection.executeScript(migration.sql)
                    try await tx.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(checksum))")
                    return true
                }
                if didApply {
                    logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                    applied.append(Applied(version: migration.version, name: migration.name))
                }
            }
            return applied
        }
    }

    /// Versions recorded as applied, in order.
    public func appliedVersions(_ db: some Queryable) async throws -> [Int] {
        try await db.query("SELECT version FROM schema_migrations ORDER BY version").map { try $0.decode(Int.self, at: 0) }
    }

    private func lock(_ tx: Transaction) async throws {
        try await tx.execute("SELECT pg_advisory_xact_lock(\(Self.lockKey))")
    }
}
