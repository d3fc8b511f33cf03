import Postgres

/// Brings a database to where `followup_owner` can migrate it, with what the migrating login may
/// do itself, and collects what it may not:
///   1. the five group roles exist (created NOLOGIN with CREATEROLE or as a superuser);
///   2. this login may act as `followup_owner` (a member of it, or a superuser);
///   3. `followup_owner` may create schemas in the database and objects in `public`;
///   4. nobody else may create in `public` (`REVOKE CREATE ... FROM PUBLIC`), and no function or
///      operator in `public` belongs to anyone but `followup_owner` or an extension — one planted
///      there before the first migration could be bound into a view or constraint for good.
struct RoleSetup {
    let connection: Connection

    private struct Login {
        var name: String
        var superuser: Bool
        var createRole: Bool
        var ownsDatabase: Bool
        var ownsPublic: Bool
    }

    func run() async throws {
        guard let row = try await connection.first("""
            SELECT r.rolname::text, r.rolsuper, r.rolcreaterole,
                   pg_catalog.pg_has_role(r.oid, d.datdba, 'MEMBER'),
                   pg_catalog.pg_has_role(r.oid, n.nspowner, 'MEMBER')
            FROM pg_catalog.pg_roles r, pg_catalog.pg_database d, pg_catalog.pg_namespace n
            WHERE r.rolname = current_user AND d.datname = pg_catalog.current_database() AND n.nspname = 'public'
            """) else { throw PostgresError(code: .invalidConfiguration, message: "cannot read the current login's role") }
        let login = Login(name: try row.decode(String.self, at: 0), superuser: try row.decode(Bool.self, at: 1),
                          createRole: try row.decode(Bool.self, at: 2), ownsDatabase: try row.decode(Bool.self, at: 3),
                          ownsPublic: try row.decode(Bool.self, at: 4))
        var needed: [String] = []

        // 1. The group roles.
        var missing: Set<String> = []
        for role in ProductSchema.roles where try await !exists(role) {
            if login.superuser || login.createRole {
                try await execute("CREATE ROLE \(role) NOLOGIN")
            } else {
                missing.insert(role)
                needed.append("CREATE ROLE \(role) NOLOGIN")
            }
        }
        let owner = ProductSchema.owner

        // 2. Acting as the owner.
        if !login.superuser {
            let member = missing.contains(owner) ? false
                : try await connection.scalar("SELECT pg_catalog.pg_has_role(current_user, \(owner)::text, 'MEMBER')", as: Bool.self)
            if !member {
                let grant = try await formatted("GRANT \(owner) TO %I", login.name)
                if login.createRole && !missing.contains(owner) { try await execute(grant) } else { needed.append(grant) }
            }
        }

        // 3. The owner may create schemas, and objects in public.
        let ownerCreatesSchemas = missing.contains(owner) ? false : try await connection.scalar(
            "SELECT pg_catalog.has_database_privilege(\(owner)::text, pg_catalog.current_database(), 'CREATE')", as: Bool.self)
        if !ownerCreatesSchemas {
            let grant = try await formatted("GRANT CREATE ON DATABASE %I TO \(owner)", try await connection.scalar("SELECT pg_catalog.current_database()::text", as: String.self))
            if (login.superuser || login.ownsDatabase) && !missing.contains(owner) { try await execute(grant) } else { needed.append(grant) }
        }
        let ownerCreatesInPublic = missing.contains(owner) ? false : try await connection.scalar(
            "SELECT pg_catalog.has_schema_privilege(\(owner)::text, 'public', 'CREATE')", as: Bool.self)
        let mayAlterPublic = login.superuser || login.ownsPublic
        if !ownerCreatesInPublic {
            let grant = "GRANT USAGE, CREATE ON SCHEMA public TO \(owner)"
            if mayAlterPublic && !missing.contains(owner) { try await execute(grant) } else { needed.append(grant) }
        }

        // 4. Nobody else creates in public; nothing foreign is there already.
        let publicMayCreate = try await connection.scalar("""
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
                           WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')
            """, as: Bool.self)
        if publicMayCreate {
            let revoke = "REVOKE CREATE ON SCHEMA public FROM PUBLIC"
            if mayAlterPublic { try await execute(revoke) } else { needed.append(revoke) }
        }
        guard needed.isEmpty else { throw SetupNeeded(statements: needed) }
        let foreign = try await connection.query("""
            SELECT kind || ' ' || name FROM (
                SELECT 'function' AS kind, p.oid::regprocedure::text AS name, p.proowner AS owner, 'pg_proc'::regclass AS class, p.oid
                FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'public'::regnamespace
                UNION ALL
                SELECT 'operator', o.oid::regoperator::text, o.oprowner, 'pg_operator'::regclass, o.oid
                FROM pg_catalog.pg_operator o WHERE o.oprnamespace = 'public'::regnamespace
            ) x
            WHERE x.owner <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = \(owner)::text)
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep
                              WHERE dep.classid = x.class AND dep.objid = x.oid AND dep.deptype = 'e')
            ORDER BY 1
            """).map { try $0.decode(String.self, at: 0) }
        guard foreign.isEmpty else {
            throw PostgresError(code: .invalidConfiguration, message: """
                schema public holds functions or operators that followup_owner does not own and no extension installed \
                (\(foreign.prefix(10).joined(separator: ", "))\(foreign.count > 10 ? ", …" : "")). The product's SQL resolves \
                names through public, so one of these could run with the product's rights: drop them, or move them to \
                another schema, then migrate again.
                """)
        }
    }

    private func exists(_ role: String) async throws -> Bool {
        try await connection.scalar("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = \(role)::text)", as: Bool.self)
    }

    /// `format()` quotes the identifier; the result is a statement to run or to print.
    private func formatted(_ template: String, _ identifier: String) async throws -> String {
        try await connection.scalar("SELECT pg_catalog.format(\(template)::text, \(identifier)::text)", as: String.self)
    }

    /// Runs a statement built only from the constants above and identifiers quoted by `format()`.
    private func execute(_ sql: String) async throws {
        do {
            _ = try await connection.query(Query(sql: sql))
        } catch let error as PostgresError where ["42710", "23505"].contains(error.sqlState ?? "") {
            // Created by a migration racing this one: that is what we wanted.
        }
    }
}
