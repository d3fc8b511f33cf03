import Foundation
import Logging

/// One numbered schema change: `0003_wallet.sql` is version 3, named "wallet". Numbered
/// migrations hold tables and data; they run once and are never edited after they ran.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// A repeatable script: `R__posting.sql` is named "posting". Repeatables hold what can be
/// replaced whole — functions, views, triggers, grants — and are applied again whenever their
/// text changes, so each body is written in exactly one file (Flyway's repeatable migrations).
public struct Repeatable: Sendable, Equatable {
    public var name: String
    public var sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// The schema one module owns (River's "migration lines"): its numbered migrations and its
/// repeatables. A product migrates several lines in dependency order.
public struct MigrationLine: Sendable, Equatable {
    public var name: String
    public var migrations: [Migration]
    public var repeatables: [Repeatable]

    public init(name: String, migrations: [Migration], repeatables: [Repeatable] = []) {
        self.name = name
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.repeatables = repeatables.sorted { $0.name < $1.name }
    }

    /// Sorts files by name into numbered migrations (`NNNN_name.sql`) and repeatables
    /// (`R__name.sql`, applied in name order). Any other name, or two files with one number, is an error.
    public init(name: String, files: [(name: String, sql: String)]) throws {
        var migrations: [Migration] = []
        var repeatables: [Repeatable] = []
        for file in files {
            guard file.name.hasSuffix(".sql") else { continue }
            let stem = String(file.name.dropLast(4))
            if stem.hasPrefix("R__"), stem.count > 3 {
                repeatables.append(Repeatable(name: String(stem.dropFirst(3)), sql: file.sql))
            } else if let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) {
                migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: file.sql))
            } else {
                throw PostgresError(code: .invalidConfiguration, message:
                    "schema file \(file.name) of \(name) must be named NNNN_name.sql (numbered) or R__name.sql (repeatable)")
            }
        }
        self.init(name: name, migrations: migrations, repeatables: repeatables)
        for (a, b) in zip(self.migrations, self.migrations.dropFirst()) where a.version == b.version {
            throw PostgresError(code: .invalidConfiguration, message: "two migrations of \(name) are numbered \(a.version): \(a.name) and \(b.name)")
        }
    }

    /// A module's own files, compiled into it by the EmbedSQL build plugin. A misnamed file is a
    /// mistake in the build itself, so it stops the program with the reason.
    public static func embedded(name: String, files: [(name: String, sql: String)]) -> MigrationLine {
        do { return try MigrationLine(name: name, files: files) } catch { preconditionFailure("\(error)") }
    }

    /// Reads every `.sql` file in a directory (for tests and tools; the product embeds its files).
    public static func load(name: String, from directory: URL) throws -> MigrationLine {
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .map { (name: $0.lastPathComponent, sql: try String(contentsOf: $0, encoding: .utf8)) }
        return try MigrationLine(name: name, files: files)
    }
}

/// Applies migration lines: first every line's pending numbered migrations (lines in the order
/// given, each migration in its own transaction), then — when any repeatable's text changed —
/// every repeatable of every line again, in order, in one transaction. Re-applying all of them
/// keeps the rule simple: a repeatable may drop and recreate a view others depend on, and the
/// later files recreate theirs. Applied work is recorded in `schema_migrations` and
/// `schema_repeatables` with the md5 of its text.
///
/// Every transaction first takes a transaction-scoped advisory lock, so two processes migrating
/// at once take turns and the second finds the work done. A numbered file whose text changed
/// after it was applied is an error, never a silent skip: fix forward with a new file instead.
public struct Migrator: Sendable {
    public struct Applied: Sendable, Equatable {
        public var line: String
        public var version: Int?
        public var name: String

        public var description: String {
            version.map { "\(line) \($0) \(name)" } ?? "\(line) \(name) (repeatable)"
        }
    }

    public let lines: [MigrationLine]
    /// When set, every migrating transaction runs as this role (`SET LOCAL ROLE`), so every
    /// object is owned by it, whoever logged in.
    public var role: String?
    private let logger: Logger
    /// Arbitrary, fixed: the advisory lock key every migrator agrees on.
    static let lockKey: Int64 = 0x666F_6C6C_6F77_7570

    public init(lines: [MigrationLine], role: String? = nil, logger: Logger = Logger(label: "followup.migrate")) {
        self.lines = lines
        self.role = role
        self.logger = logger
    }

    /// One line named "default" holding `migrations`.
    public init(_ migrations: [Migration], logger: Logger = Logger(label: "followup.migrate")) {
        self.init(lines: [MigrationLine(name: "default", migrations: migrations)], logger: logger)
    }

    /// Applies what is pending; returns what this call applied.
    @discardableResult
    public func migrate(_ pool: ConnectionPool) async throws -> [Applied] {
        try await pool.withConnection { connection in
            try await connection.withTransaction { tx in
                try await lock(tx)
                try await createTrackingTables(tx)
            }
            var applied: [Applied] = []
            for line in lines {
                for migration in line.migrations where try await apply(migration, of: line, on: connection) {
                    logger.info("applied migration", metadata: ["line": "\(line.name)", "version": "\(migration.version)", "name": "\(migration.name)"])
                    applied.append(Applied(line: line.name, version: migration.version, name: migration.name))
                }
            }
            applied += try await applyRepeatables(on: connection)
            return applied
        }
    }

    /// Versions recorded as applied for a line, in order.
    public func appliedVersions(_ db: some Queryable, line: String = "default") async throws -> [Int] {
        try await db.query("SELECT version FROM public.schema_migrations WHERE line = \(line) ORDER BY version").map { try $0.decode(Int.self, at: 0) }
    }

    /// What this build would apply that the database has not recorded: numbered migrations not in
    /// `schema_migrations`, repeatables whose text differs from `schema_repeatables` — as
    /// `line/name` strings, empty when the schema is current. Read-only, three round trips, no
    /// lock (a readiness probe; `migrate` is what changes anything).
    public func pending(_ db: some Queryable) async throws -> [String] {
        let tracked = try await db.scalar("""
            SELECT to_regclass('public.schema_migrations') IS NOT NULL AND to_regclass('public.schema_repeatables') IS NOT NULL
            """, as: Bool.self)
        guard tracked else {
            // Never migrated: everything is pending.
            return lines.flatMap { line in
                line.migrations.map { "\(line.name)/\($0.version)_\($0.name)" } + line.repeatables.map { "\(line.name)/\($0.name)" }
            }
        }
        let applied = Set(try await db.query("SELECT line || '/' || version FROM public.schema_migrations")
            .map { try $0.decode(String.self, at: 0) })
        var missing: [String] = []
        for line in lines {
            for migration in line.migrations where !applied.contains("\(line.name)/\(migration.version)") {
                missing.append("\(line.name)/\(migration.version)_\(migration.name)")
            }
        }
        let scripts = lines.flatMap { line in line.repeatables.map { (name: "\(line.name)/\($0.name)", sql: $0.sql) } }
        guard !scripts.isEmpty else { return missing }
        // One statement: each embedded script's md5 beside the recorded checksum.
        let values = scripts.indices.map { "($\($0 * 2 + 1)::text, md5($\($0 * 2 + 2)::text))" }.joined(separator: ", ")
        let binds: [any PostgresEncodable] = scripts.flatMap { [$0.name, $0.sql] as [any PostgresEncodable] }
        let stale = try await db.query(Query(sql: """
            SELECT s.name FROM (VALUES \(values)) AS s(name, checksum)
            LEFT JOIN public.schema_repeatables r ON r.line || '/' || r.name = s.name
            WHERE r.checksum IS DISTINCT FROM s.checksum ORDER BY s.name
            """, binds)).map { try $0.decode(String.self, at: 0) }
        return missing + stale
    }

    private func createTrackingTables(_ tx: Transaction) async throws {
        let legacy = try await tx.scalar("""
            SELECT to_regclass('schema_migrations') IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM pg_catalog.pg_attribute
                WHERE attrelid = to_regclass('schema_migrations') AND attname = 'line')
            """, as: Bool.self)
        guard !legacy else {
            throw PostgresError(code: .invalidConfiguration, message:
                "this database was migrated by a pre-release build whose schema was folded into a new baseline; migrate a new, empty database instead")
        }
        try await tx.execute("""
            CREATE TABLE IF NOT EXISTS public.schema_migrations (
                line       text NOT NULL,
                version    integer NOT NULL,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (line, version))
            """)
        try await tx.execute("""
            CREATE TABLE IF NOT EXISTS public.schema_repeatables (
                line       text NOT NULL,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (line, name))
            """)
    }

    private func apply(_ migration: Migration, of line: MigrationLine, on connection: Connection) async throws -> Bool {
        try await connection.withTransaction { tx -> Bool in
            try await lock(tx)
            let checksum = try await tx.scalar("SELECT md5(\(migration.sql))", as: String.self)
            if let row = try await tx.first("SELECT checksum FROM public.schema_migrations WHERE line = \(line.name) AND version = \(migration.version)") {
                let recorded = try row.decode(String.self, at: 0)
                guard recorded == checksum else {
                    throw PostgresError(code: .invalidConfiguration, message:
                        "migration \(line.name) \(migration.version)_\(migration.name) was edited after it was applied (checksum \(recorded) in the database, \(checksum) in this build); restore the file and add a new migration instead")
                }
                return false
            }
            try await tx.connection.executeScript(migration.sql)
            try await tx.execute("INSERT INTO public.schema_migrations (line, version, name, checksum) VALUES (\(line.name), \(migration.version), \(migration.name), \(checksum))")
            return true
        }
    }

    private func applyRepeatables(on connection: Connection) async throws -> [Applied] {
        let all = lines.flatMap { line in line.repeatables.map { (line: line.name, script: $0) } }
        guard !all.isEmpty else { return [] }
        return try await connection.withTransaction { tx -> [Applied] in
            try await lock(tx)
            var recorded: [String: String] = [:]
            for row in try await tx.query("SELECT line || '/' || name, checksum FROM public.schema_repeatables") {
                recorded[try row.decode(String.self, at: 0)] = try row.decode(String.self, at: 1)
            }
            var checksums: [String] = []
            for entry in all {
                checksums.append(try await tx.scalar("SELECT md5(\(entry.script.sql))", as: String.self))
            }
            let changed = zip(all, checksums).filter { recorded["\($0.line)/\($0.script.name)"] != $1 }
            guard !changed.isEmpty || recorded.count != all.count else { return [] }
            for (entry, checksum) in zip(all, checksums) {
                try await tx.connection.executeScript(entry.script.sql)
                try await tx.execute("""
                    INSERT INTO public.schema_repeatables (line, name, checksum) VALUES (\(entry.line), \(entry.script.name), \(checksum))
                    ON CONFLICT (line, name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()
                    """)
            }
            let changedNames = changed.map { "\($0.0.line)/\($0.0.script.name)" }
            logger.info("applied repeatable scripts", metadata: ["count": "\(all.count)", "changed": "\(changedNames.joined(separator: ","))"])
            return changed.map { Applied(line: $0.0.line, version: nil, name: $0.0.script.name) }
        }
    }

    /// Every transaction starts here: the lock, then (for this transaction only) the role, and
    /// no NOTICEs (`DROP ... IF EXISTS` in a repeatable is expected to find nothing the first time).
    private func lock(_ tx: Transaction) async throws {
        try await tx.execute("SELECT pg_advisory_xact_lock(\(Self.lockKey)), set_config('client_min_messages', 'warning', true)")
        if let role {
            // SET LOCAL ROLE, with the name bound as a value (an identifier cannot be).
            _ = try await tx.query("SELECT set_config('role', \(role), true)")
        }
    }
}
