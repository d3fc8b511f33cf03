import Foundation
import Postgres
import Testing
import TestSupport

/// Issue 16 item 5 (docs/scale.md "Past one Postgres"): the schema is ready to be sharded by
/// channel. Every table is classified; every tenant table carries `channel_id`; every primary and
/// unique key of a tenant table, and every foreign key between two, includes it — except the
/// documented exceptions below, each with its reason (docs/scale.md lists the same). Read from the
/// catalog of a migrated database: a new table, key or foreign key that forgets its tenant fails here.
@Suite("Tenant schema") struct TenantSchemaTests {
    /// Distributed by `channel_id` (co-located: one shard holds a channel's rows of each).
    static let tenant: Set<String> = [
        "public.customers", "public.customer_devices", "public.chats", "public.messages", "public.chat_reads",
        "public.activity", "public.push_receipts", "public.follow_ups", "public.deliveries", "public.suppressions",
        "public.channel_email_domains", "wallet.accounts", "wallet.transfers", "wallet.entries", "wallet.top_ups",
        "wallet.top_up_attempts", "wallet.auto_charge", "wallet.monthly_credits",
    ]
    /// `channels` is the tenant: distributed by its `id`.
    static let channels = "public.channels"
    /// Small, rarely written, copied to every node.
    static let reference: Set<String> = ["wallet.prices", "public.schema_migrations", "public.schema_repeatables"]
    /// The job queue: placed per node group (docs/scale.md "The job queue").
    static let queue: Set<String> = ["public.jobs", "public.job_history", "public.job_schedules"]
    /// Keyed by the provider's id, before any channel is known: distributed by that key.
    static let ownKey: Set<String> = ["public.inbound_events"]

    /// `channel_id` columns that may be NULL.
    static let nullableChannel: [String: String] = [
        "public.activity": "the app's INSERT INTO activity (customer_id, kind) does not give it, and a lookup per heartbeat would cost the hottest write path a read",
        "public.push_receipts": "a receipt for an unknown follow-up is kept (rejected) and has no channel",
        "wallet.accounts": "the system accounts (revenue, top_up_clearing, ...) belong to no channel",
    ]

    /// Primary and unique keys of tenant tables without `channel_id` (index names).
    static let keysWithoutChannel: [String: String] = [
        "customers_pkey": "the app may insert its own ids; activity and the offline check find a customer by id alone",
        "chats_pkey": "the app may insert its own ids; messages, chat_reads and follow_ups reference a chat by id",
        "messages_pkey": "the app may insert its own ids",
        "customer_devices_pkey": "the app may insert its own ids; pushes and receipts name a device by id",
        "customer_devices_token_unique": "the app's upsert target: ON CONFLICT (customer_id, platform, token)",
        "channel_email_domains_pkey": "the app may insert its own ids",
        "push_receipts_pkey": "its channel_id may be NULL (a receipt for an unknown follow-up), so it cannot be in a key",
        "accounts_pkey": "the system accounts have no channel",
        "accounts_system": "the system accounts' key: they have no channel",
        "transfers_idempotency_key": "an idempotency key is refused for another wallet (WL001), and capture/release find a hold by its key alone",
    ]

    /// Foreign keys between tenant tables without `channel_id` on both sides (constraint names).
    static let foreignKeysWithoutChannel: [String: String] = [
        "messages_chat_known": "chats has no (id, channel_id) key: one more index on the app's table",
        "chat_reads_chat_known": "chats has no (id, channel_id) key: one more index on the app's table",
        "follow_ups_chat_id_fkey": "chats has no (id, channel_id) key: one more index on the app's table",
        "entries_account_id_fkey": "a leg against a system account names an account of no channel",
    ]

    static func tables(_ pool: ConnectionPool) async throws -> Set<String> {
        Set(try await pool.query("""
            SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('public', 'wallet', 'finance') AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            """).map { try $0.decode(String.self, at: 0) })
    }

    @Test("every table is classified: tenant, the channels, reference, queue, or keyed by its own id")
    func everyTableClassified() async throws {
        let db = try await TestDatabase.fresh()
        defer { Task { await db.pool.close() } }
        let classified = Self.tenant.union(Self.reference).union(Self.queue).union(Self.ownKey).union([Self.channels])
        let tables = try await Self.tables(db.pool)
        #expect(tables.subtracting(classified).isEmpty, "not classified (add to TenantSchemaTests and docs/scale.md): \(tables.subtracting(classified).sorted())")
        #expect(classified.subtracting(tables).isEmpty, "classified but gone: \(classified.subtracting(tables).sorted())")
    }

    @Test("every tenant table carries channel_id, NOT NULL but where documented")
    func channelOnEveryTenantRow() async throws {
        let db = try await TestDatabase.fresh()
        defer { Task { await db.pool.close() } }
        let columns = try await db.pool.query("""
            SELECT n.nspname || '.' || c.relname AS "table", a.attnotnull AS not_null
            FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE a.attname = 'channel_id' AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            """).map { (try $0.decode("table", as: String.self), try $0.decode("not_null", as: Bool.self)) }
        let notNull = Dictionary(columns, uniquingKeysWith: { a, _ in a })
        for table in Self.tenant.sorted() {
            #expect(notNull[table] != nil, "\(table) has no channel_id")
            if let isNotNull = notNull[table] {
                #expect(isNotNull == (Self.nullableChannel[table] == nil),
                        "\(table).channel_id: NOT NULL is \(isNotNull), documented nullable: \(Self.nullableChannel[table] ?? "no")")
            }
        }
    }

    @Test("every primary and unique key of a tenant table includes channel_id, but the documented ones")
    func uniqueKeysCarryTheChannel() async throws {
        let db = try await TestDatabase.fresh()
        defer { Task { await db.pool.close() } }
        let keys = try await db.pool.query("""
            SELECT n.nspname || '.' || c.relname AS "table", ic.relname AS key,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attname = 'channel_id' AND a.attnum = ANY (i.indkey)) AS has_channel
            FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
            JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE i.indisunique AND n.nspname IN ('public', 'wallet') AND NOT c.relispartition
            """).map { (try $0.decode("table", as: String.self), try $0.decode("key", as: String.self), try $0.decode("has_channel", as: Bool.self)) }
        let tenantKeys = keys.filter { Self.tenant.contains($0.0) }
        for (table, key, hasChannel) in tenantKeys {
            #expect(hasChannel || Self.keysWithoutChannel[key] != nil, "\(table): unique key \(key) omits channel_id")
            if hasChannel { #expect(Self.keysWithoutChannel[key] == nil, "\(key) includes channel_id now: remove it from the exceptions (and docs/scale.md)") }
        }
        let present = Set(tenantKeys.map(\.1))
        #expect(Set(Self.keysWithoutChannel.keys).subtracting(present).isEmpty,
                "documented exceptions that no longer exist: \(Set(Self.keysWithoutChannel.keys).subtracting(present).sorted())")
        // The tenant's own table: its key is the distribution column.
        #expect(keys.filter { $0.0 == Self.channels }.map(\.1) == ["channels_pkey"])
    }

    @Test("every foreign key between tenant tables names the channel on both sides, but the documented ones")
    func foreignKeysCarryTheChannel() async throws {
        let db = try await TestDatabase.fresh()
        defer { Task { await db.pool.close() } }
        // The distribution column of each side: `channel_id`, or `id` for channels itself.
        let foreignKeys = try await db.pool.query("""
            SELECT con.conname AS name, src.nspname || '.' || s.relname AS source, dst.nspname || '.' || d.relname AS target,
                   EXISTS (SELECT 1 FROM unnest(con.conkey, con.confkey) AS k(own, other)
                           JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.own
                           JOIN pg_catalog.pg_attribute b ON b.attrelid = con.confrelid AND b.attnum = k.other
                           WHERE a.attname = 'channel_id'
                             AND b.attname = CASE WHEN con.confrelid = 'public.channels'::regclass THEN 'id' ELSE 'channel_id' END)
                       AS pairs_channels
            FROM pg_catalog.pg_constraint con
            JOIN pg_catalog.pg_class s ON s.oid = con.conrelid JOIN pg_catalog.pg_namespace src ON src.oid = s.relnamespace
            JOIN pg_catalog.pg_class d ON d.oid = con.confrelid JOIN pg_catalog.pg_namespace dst ON dst.oid = d.relnamespace
            WHERE con.contype = 'f'
            """).map { (try $0.decode("name", as: String.self), try $0.decode("source", as: String.self),
                        try $0.decode("target", as: String.self), try $0.decode("pairs_channels", as: Bool.self)) }
        let distributed = Self.tenant.union([Self.channels])
        let between = foreignKeys.filter { distributed.contains($0.1) && distributed.contains($0.2) }
        #expect(between.count > 10, "the query found the foreign keys: \(between.map(\.0))")
        for (name, source, target, pairsChannels) in between {
            #expect(pairsChannels || Self.foreignKeysWithoutChannel[name] != nil, "\(name) (\(source) → \(target)) does not pair the channels")
            if pairsChannels { #expect(Self.foreignKeysWithoutChannel[name] == nil, "\(name) pairs the channels now: remove it from the exceptions") }
        }
        #expect(Set(Self.foreignKeysWithoutChannel.keys).subtracting(between.map(\.0)).isEmpty)
    }

    @Test("the rows themselves agree: a delivery of another channel than its follow-up's, or a device of an unknown customer, is refused by name")
    func compositeKeysRefuse() async throws {
        let db = try await TestDatabase.fresh()
        defer { Task { await db.pool.close() } }
        try await db.pool.withConnection { connection in try await connection.executeScript("""
            INSERT INTO public.channels (id, name) VALUES (1, 'A'), (2, 'B');
            INSERT INTO public.customers (id, channel_id) VALUES (10, 1);
            INSERT INTO public.chats (id, channel_id, customer_id) VALUES (100, 1, 10);
            INSERT INTO public.follow_ups (id, channel_id, chat_id, customer_id, first_message_id, last_message_id, message_count, offline_since, offline_reason)
            OVERRIDING SYSTEM VALUE VALUES (7, 1, 100, 10, 1, 1, 1, now(), 'left');
            """) }
        let cases: [(Query, String)] = [
            ("INSERT INTO public.deliveries (follow_up_id, channel_id, route) VALUES (7, 2, 'sms')", "deliveries_follow_up_id_fkey"),
            ("INSERT INTO public.customer_devices (customer_id, platform, token) VALUES (11, 'ios', 't')", "customer_devices_customer_known"),
            ("INSERT INTO public.chat_reads (chat_id) VALUES (101)", "chat_reads_chat_known"),
        ]
        for (sql, constraint) in cases {
            do {
                try await db.pool.execute(sql)
                Issue.record("accepted: \(sql.sql)")
            } catch let error as PostgresError {
                #expect(error.sqlState == "23503" && error.constraint == constraint, "\(sql.sql): \(error)")
            }
        }
        // The app's inserts give no channel_id; every row gets its parent's.
        try await db.pool.execute("INSERT INTO public.customer_devices (customer_id, platform, token) VALUES (10, 'ios', 't')")
        try await db.pool.execute("INSERT INTO public.chat_reads (chat_id) VALUES (100)")
        #expect(try await db.pool.scalar("SELECT channel_id FROM public.customer_devices", as: Int64.self) == 1)
        #expect(try await db.pool.scalar("SELECT channel_id FROM public.chat_reads", as: Int64.self) == 1)
    }

    @Test("the lookups behind the widened keys still use their index")
    func hotLookupsUseTheirIndex() async throws {
        let db = try await TestDatabase.fresh()
        defer { Task { await db.pool.close() } }
        // Each query as the product runs it (by id, by chat, by follow-up, by hold), and the index
        // it must be able to use. The tables are empty, so sequential scans are switched off: the
        // question is whether the widened key still serves the lookup, not what a tiny table costs.
        let cases: [(String, String)] = [
            ("SELECT 1 FROM public.follow_ups f WHERE f.chat_id = 1 AND f.status IN ('pending', 'awaiting_push_ack')", "follow_ups_one_open_per_chat"),
            ("SELECT * FROM public.follow_ups WHERE id = 1 FOR UPDATE", "follow_ups_pkey"),
            ("SELECT * FROM public.deliveries WHERE id = 1", "deliveries_pkey"),
            ("SELECT 1 FROM public.deliveries WHERE follow_up_id = 1 AND route = 'push' AND id <> 2", "deliveries_one_per_route"),
            ("SELECT t.amount FROM wallet.transfers t WHERE t.id = 1", "transfers_pkey"),
            ("SELECT * FROM wallet.transfers s WHERE s.settles = 1", "transfers_settles_once"),
            ("SELECT * FROM wallet.transfers x WHERE x.reverses = 1", "transfers_reversed_once"),
            ("SELECT e.balance_after FROM wallet.entries e WHERE e.account_id = 1 ORDER BY e.account_version DESC LIMIT 1", "entries_account_version"),
            ("SELECT * FROM wallet.top_ups x WHERE x.id = 1 FOR UPDATE", "top_ups_pkey"),
            ("SELECT * FROM wallet.top_up_attempts x WHERE x.top_up_id = 1 AND x.state = 'started'", "top_up_attempts_one_open"),
            ("SELECT * FROM wallet.top_up_attempts x WHERE x.id = '00000000-0000-0000-0000-000000000000'", "top_up_attempts_pkey"),
        ]
        try await db.pool.withConnection { connection in
            try await connection.execute("SET enable_seqscan = off")
            for (sql, index) in cases {
                let plan = try await connection.query(Query(sql: "EXPLAIN (COSTS OFF) " + sql)).map { try $0.decode(String.self, at: 0) }
                    .joined(separator: "\n")
                #expect(plan.contains("using \(index)") || plan.contains("on \(index)"), "\(sql)\n\(plan)")
            }
            try await connection.execute("RESET enable_seqscan")
        }
        // The planning step's ON CONFLICT names the widened key's columns (DeliveryRecord.insert).
        let arbiter = try await db.pool.query("""
            EXPLAIN (COSTS OFF) INSERT INTO public.deliveries (follow_up_id, channel_id, route) VALUES (1, 1, 'sms')
            ON CONFLICT (follow_up_id, route, coalesce(device_id, 0), channel_id) WHERE follow_up_id IS NOT NULL DO NOTHING
            """).map { try $0.decode(String.self, at: 0) }.joined(separator: "\n")
        #expect(arbiter.contains("Conflict Arbiter Indexes: deliveries_one_per_route"), "\(arbiter)")
    }
}
