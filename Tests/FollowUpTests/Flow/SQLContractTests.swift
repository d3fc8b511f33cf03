import Foundation
import Postgres
import Testing
import TestSupport

/// The app's side, exactly as an app writes it: plain SQL. Bad rows are refused with a
/// constraint name that says what is wrong.
@Suite("SQL contract") struct SQLContractTests {
    func rejected(_ db: TestDatabase, _ sql: Query) async -> PostgresError? {
        do {
            try await db.pool.execute(sql)
            return nil
        } catch let error as PostgresError {
            return error
        } catch {
            return nil
        }
    }

    @Test("bad rows are refused with a clear constraint")
    func constraints() async throws {
        try await withTestScope { scope in
            let db = try await scope.database()
            let channel = try await db.pool.scalar("INSERT INTO channels (name) VALUES ('Acme') RETURNING id", as: Int64.self)
            let customer = try await db.pool.scalar("""
                INSERT INTO customers (channel_id, name, phone, email, country, language)
                VALUES (\(channel), 'Kim', '+821012345678', 'kim@example.com', 'KR', 'ko') RETURNING id
                """, as: Int64.self)
            let chat = try await db.pool.scalar("INSERT INTO chats (channel_id, customer_id) VALUES (\(channel), \(customer)) RETURNING id", as: Int64.self)

            let cases: [(Query, String)] = [
                ("INSERT INTO customers (channel_id, phone) VALUES (\(channel), '010-1234-5678')", "customers_phone_e164"),
                ("INSERT INTO customers (channel_id, phone) VALUES (\(channel), '+82 10 1234 5678')", "customers_phone_e164"),
                ("INSERT INTO customers (channel_id, email) VALUES (\(channel), 'kim at example.com')", "customers_email_format"),
                ("INSERT INTO customers (channel_id, country) VALUES (\(channel), 'Korea')", "customers_country_iso"),
                ("INSERT INTO messages (chat_id, sender, body) VALUES (\(chat), 'robot', 'hi')", "messages_sender_known"),
                ("INSERT INTO messages (chat_id, sender, body) VALUES (\(chat), 'manager', '   ')", "messages_body_present"),
                ("INSERT INTO messages (chat_id, sender, body) VALUES (\(chat), 'manager', repeat('x', 20001))", "messages_body_present"),
                ("INSERT INTO messages (chat_id, sender, body) VALUES (424242, 'manager', 'hi')", "messages_chat_known"),
                ("INSERT INTO activity (customer_id, kind) VALUES (\(customer), 'blink')", "activity_kind_known"),
                ("INSERT INTO chats (channel_id, customer_id, opened_by) VALUES (\(channel), \(customer), 'robot')", "chats_opened_by_known"),
                ("INSERT INTO chats (channel_id, customer_id, kind) VALUES (\(channel), \(customer), 'sales')", "chats_kind_known"),
                ("INSERT INTO chats (channel_id, customer_id) VALUES (\(channel), 424242)", "chats_customer_in_channel"),
                ("INSERT INTO customer_devices (customer_id, platform, token) VALUES (\(customer), 'windows', 'x')", "customer_devices_platform_known"),
                ("INSERT INTO channels (name, plan) VALUES ('X', 'gold')", "channels_plan_known"),
                ("INSERT INTO channels (name, messenger_sender_key) VALUES ('X', 'key-only')", "channels_messenger_complete"),
                ("INSERT INTO activity (customer_id, kind, at) VALUES (\(customer), 'heartbeat', now() + interval '1 year')", "activity_at_not_in_future"),
            ]
            for (sql, constraint) in cases {
                let error = await rejected(db, sql)
                #expect(error?.constraint == constraint, "\(sql.sql): \(error.map(String.init(describing:)) ?? "accepted")")
            }
        }
    }

    @Test("the documented inserts work as written, and a manager answer enqueues one check per chat")
    func documentedInserts() async throws {
        try await withTestScope { scope in
            let db = try await scope.database()
            try await db.pool.execute("""
                INSERT INTO channels (id, name, plan, phone_enabled, email_enabled, default_country)
                VALUES (1, 'Acme', 'paid', true, true, 'KR')
                """)
            try await db.pool.execute("""
                INSERT INTO customers (id, channel_id, name, phone, email, country, language)
                VALUES (10, 1, 'Kim', '+821012345678', 'kim@example.com', 'KR', 'ko')
                """)
            try await db.pool.execute("INSERT INTO chats (id, channel_id, customer_id, opened_by, kind) VALUES (100, 1, 10, 'customer', 'support')")
            try await db.pool.execute("INSERT INTO messages (chat_id, sender, body) VALUES (100, 'customer', 'Hello')")
            // A channel created on the paid plan has its month's SMS credit enqueued at once (docs/finance.md).
            #expect(try await db.pool.scalar("SELECT coalesce(string_agg(unique_key, ','), '') FROM jobs", as: String.self) == "wallet.monthly_credit:1")
            #expect(try await db.pool.scalar("SELECT count(*)::int FROM jobs WHERE kind LIKE 'followup.%'", as: Int.self) == 0,
                    "customer messages need no check")
            try await db.pool.execute("INSERT INTO messages (chat_id, sender, body) VALUES (100, 'manager', 'Hi'), (100, 'bot', 'Also')")
            try await db.pool.execute("INSERT INTO messages (chat_id, sender, body) VALUES (100, 'manager', 'More')")
            let jobs = try await db.pool.query("SELECT kind, payload::text, unique_key FROM jobs WHERE kind LIKE 'followup.%'").map {
                (try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1), try $0.decode(String?.self, at: 2))
            }
            #expect(jobs.count == 1)
            #expect(jobs.first?.0 == "followup.offline_check")
            #expect(jobs.first?.1 == "{\"chat_id\": 100}")
            #expect(jobs.first?.2 == "offline_check:100")
            // Heartbeats need no customer row lock and no foreign key: a bare append.
            try await db.pool.execute("INSERT INTO activity (customer_id, kind) VALUES (10, 'heartbeat')")
            try await db.pool.execute("INSERT INTO activity (customer_id, kind, at) VALUES (10, 'page_view', now() - interval '1 minute')")
            try await db.pool.execute("INSERT INTO chat_reads (chat_id) VALUES (100)")
            #expect(try await db.pool.scalar("SELECT count(*)::int FROM activity", as: Int.self) == 2)
        }
    }

    @Test("a 'left' row pulls the customer's waiting offline check forward")
    func leftPullsForward() async throws {
        try await withTestScope { scope in
            let db = try await scope.database()
            try await db.pool.execute("INSERT INTO channels (id, name) VALUES (1, 'Acme')")
            try await db.pool.execute("INSERT INTO customers (id, channel_id) VALUES (10, 1)")
            try await db.pool.execute("INSERT INTO chats (id, channel_id, customer_id) VALUES (100, 1, 10)")
            try await db.pool.execute("INSERT INTO messages (chat_id, sender, body) VALUES (100, 'manager', 'Hi')")
            try await db.pool.execute("UPDATE jobs SET run_at = now() + interval '4 minutes'")
            try await db.pool.execute("INSERT INTO activity (customer_id, kind) VALUES (10, 'heartbeat')")
            #expect(try await db.pool.scalar("SELECT run_at > now() + interval '1 minute' FROM jobs", as: Bool.self))
            try await db.pool.execute("INSERT INTO activity (customer_id, kind) VALUES (10, 'left')")
            #expect(try await db.pool.scalar("SELECT run_at <= now() FROM jobs", as: Bool.self))
        }
    }
}
