import Foundation
import EmbeddedPostgres
import Postgres
import Schema
import Testing
import TestSupport

/// `followup migrate` by a login that may not create roles: it says exactly what an
/// administrator must run and changes nothing; once that is done, it migrates, and every object
/// belongs to followup_owner. On a cluster of its own, since roles are cluster-wide.
@Suite("Migrating without CREATEROLE") struct MigrateRolesTests {
    @Test("missing roles: every statement an administrator must run, nothing created; after them, it migrates as followup_owner")
    func withoutCreateRole() async throws {
        try await withTestScope { scope in
            let cluster = try await EmbeddedCluster.start()
            scope.onEnd { cluster.stop() }
            let admin = scope.closing(ConnectionPool(cluster.configuration, maxConnections: 2))
            try await admin.execute("CREATE ROLE deployer LOGIN PASSWORD 'deploy-pw' NOCREATEROLE")
            try await admin.execute("CREATE DATABASE product OWNER deployer")
            let deployer = scope.closing(ConnectionPool(try cluster.configuration.database("product").login("deployer", password: "deploy-pw"),
                                                        maxConnections: 2))

            let error = try await #require(throws: SetupNeeded.self) { try await ProductSchema.migrate(deployer) }
            #expect(error.statements == [
                "CREATE ROLE followup_owner NOLOGIN", "CREATE ROLE followup_poller NOLOGIN", "CREATE ROLE followup_app NOLOGIN",
                "CREATE ROLE followup_operator NOLOGIN", "CREATE ROLE followup_finance NOLOGIN",
                "GRANT followup_owner TO deployer", "GRANT CREATE ON DATABASE product TO followup_owner",
                "GRANT USAGE, CREATE ON SCHEMA public TO followup_owner",
            ], "\(error.statements)")
            #expect(error.description.contains("CREATE ROLE followup_poller NOLOGIN;"))
            #expect(try await deployer.scalar("SELECT to_regclass('public.jobs') IS NULL", as: Bool.self), "nothing was created")

            // An administrator runs them (public's GRANT in the product database, the rest anywhere).
            let productAdmin = scope.closing(ConnectionPool(try cluster.configuration.database("product"), maxConnections: 1))
            for statement in error.statements { try await productAdmin.execute(Query(sql: statement)) }

            let applied = try await ProductSchema.migrate(deployer)
            #expect(!applied.isEmpty)
            #expect(try await deployer.scalar("""
                SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname IN ('public', 'wallet', 'finance') AND c.relkind IN ('r', 'v')
                  AND pg_get_userbyid(c.relowner) <> 'followup_owner'
                """, as: Int.self) == 0, "every table and view belongs to followup_owner")
            // Again, with the roles in place: nothing to do, nothing to ask.
            #expect(try await ProductSchema.migrate(deployer).isEmpty)
        }
    }
}
