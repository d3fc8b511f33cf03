import Foundation
import Postgres
import Testing
import TestSupport

/// docs/security.md's table of who may do what, checked action by action with each group role's
/// own login. Each action runs in a transaction that is rolled back, so they cannot disturb
/// each other: what is checked is only whether the database lets that login do it.
@Suite("Role matrix") struct RoleMatrixTests {
    /// What a login gets: `ok`, or the SQLSTATE it is refused with.
    enum Outcome: Equatable, CustomStringConvertible {
        case ok
        case refused(String)
        static let denied = Outcome.refused("42501")
        var description: String { if case .refused(let state) = self { "refused \(state)" } else { "ok" } }
    }

    struct Action: Sendable, CustomStringConvertible {
        var name: String
        var sql: String
        var poller: Outcome
        var app: Outcome
        var `operator`: Outcome
        var finance: Outcome
        var description: String { name }

        func expected(_ login: TestLogin) -> Outcome {
            switch login {
            case .poller: poller
            case .app: app
            case .operator: `operator`
            case .finance: finance
            }
        }
    }

    /// The rows of docs/security.md's matrix. Placeholders: {A} a paid channel, {B} another
    /// channel, {C} a chat of {A}, {D} a queued delivery of {A} priced 7,900, {T} a credit
    /// transfer of {A}, {J} a job, {F} a follow-up.
    static let actions: [Action] = [
        Action(name: "mint money (wallet.credit)", sql: "SELECT wallet.credit({A}, 500000000, 'paid', 'mint', 'me')",
               poller: .denied, app: .denied, operator: .ok, finance: .denied),
        Action(name: "adjust a balance", sql: "SELECT wallet.adjust({A}, 1000, 'fix', 'me')",
               poller: .denied, app: .denied, operator: .ok, finance: .denied),
        Action(name: "reverse a transfer", sql: "SELECT wallet.reverse({T}, 'undo', 'me')",
               poller: .denied, app: .denied, operator: .ok, finance: .denied),
        Action(name: "change a price", sql: "INSERT INTO wallet.prices (country, route, unit, price_micros, effective_from) VALUES ('US', 'sms', 'segment', 0, now())",
               poller: .denied, app: .denied, operator: .ok, finance: .denied),
        Action(name: "point a channel's auto-charge at a payment customer",
               sql: "INSERT INTO wallet.auto_charge (channel_id, enabled, payment_customer) VALUES ({B}, true, 'cus_foreign')",
               poller: .denied, app: .denied, operator: .ok, finance: .denied),
        Action(name: "hold a text's price", sql: "SELECT * FROM wallet.hold({A}, {D}, 7900, 'sms')",
               poller: .ok, app: .denied, operator: .denied, finance: .denied),
        Action(name: "hold on another channel's wallet for this delivery", sql: "SELECT * FROM wallet.hold({B}, {D}, 7900, 'sms')",
               poller: .refused("WL011"), app: .denied, operator: .denied, finance: .denied),
        Action(name: "hold for a delivery that does not exist", sql: "SELECT * FROM wallet.hold({A}, 999999, 7900, 'sms')",
               poller: .refused("WL011"), app: .denied, operator: .denied, finance: .denied),
        Action(name: "capture or release a hold", sql: "SELECT wallet.release({D})",
               poller: .ok, app: .denied, operator: .denied, finance: .denied),
        Action(name: "grant this month's credit to a paid channel", sql: "SELECT wallet.grant_monthly_credit({A}, current_date, 10000000)",
               poller: .ok, app: .denied, operator: .denied, finance: .denied),
        Action(name: "grant a credit for a month not begun", sql: "SELECT wallet.grant_monthly_credit({A}, '2030-01-01', 10000000)",
               poller: .refused("WL012"), app: .denied, operator: .denied, finance: .denied),
        Action(name: "rewrite ledger history", sql: "UPDATE wallet.transfers SET reason = 'edited'",
               poller: .denied, app: .denied, operator: .denied, finance: .denied),
        Action(name: "write a ledger entry directly", sql: "INSERT INTO wallet.entries (transfer_id, account_id, amount) VALUES ({T}, 1, 5)",
               poller: .denied, app: .denied, operator: .denied, finance: .denied),
        Action(name: "disable a ledger trigger", sql: "ALTER TABLE wallet.transfers DISABLE TRIGGER transfers_append_only",
               poller: .denied, app: .denied, operator: .denied, finance: .denied),
        Action(name: "read the finance views", sql: "SELECT count(*) FROM finance.integrity_checks",
               poller: .denied, app: .denied, operator: .ok, finance: .ok),
        Action(name: "read the ledger's tables", sql: "SELECT count(*) FROM wallet.transfers",
               poller: .ok, app: .denied, operator: .ok, finance: .denied),
        Action(name: "read every channel's deliveries (recipients, bodies)", sql: "SELECT count(*) FROM public.deliveries",
               poller: .ok, app: .denied, operator: .ok, finance: .denied),
        Action(name: "read delivery_report", sql: "SELECT count(*) FROM public.delivery_report",
               poller: .ok, app: .ok, operator: .ok, finance: .denied),
        Action(name: "enqueue a job", sql: "SELECT public.jobs_enqueue('anything')",
               poller: .ok, app: .denied, operator: .denied, finance: .denied),
        Action(name: "complete, retry or cancel a job", sql: "UPDATE public.jobs SET state = 'cancelled', finished_at = now() WHERE id = {J}",
               poller: .ok, app: .denied, operator: .ok, finance: .denied),
        Action(name: "write a follow-up", sql: "UPDATE public.follow_ups SET reason = 'edited' WHERE id = {F}",
               poller: .ok, app: .denied, operator: .denied, finance: .denied),
        Action(name: "write a message (the app's contract; serve writes a customer's reply)",
               sql: "INSERT INTO public.messages (chat_id, sender, body) VALUES ({C}, 'manager', 'hi')",
               poller: .ok, app: .ok, operator: .denied, finance: .denied),
        Action(name: "create a channel", sql: "INSERT INTO public.channels (name) VALUES ('New')",
               poller: .denied, app: .ok, operator: .denied, finance: .denied),
        Action(name: "read the app's customers", sql: "SELECT count(*) FROM public.customers",
               poller: .ok, app: .ok, operator: .ok, finance: .denied),
        Action(name: "change a channel's follow-up settings (followup channel set)",
               sql: "UPDATE public.channels SET follow_up_cooldown = '5 minutes', quiet_hours_start = '21:00', quiet_hours_end = '08:00', max_texts_per_chat_per_day = 2 WHERE id = {A}",
               poller: .denied, app: .ok, operator: .ok, finance: .denied),
        Action(name: "change a channel's plan", sql: "UPDATE public.channels SET plan = 'free' WHERE id = {A}",
               poller: .denied, app: .ok, operator: .denied, finance: .denied),
        Action(name: "set a customer's follow-up preference and time zone",
               sql: "UPDATE public.customers SET follow_up = 'email_only', time_zone = 'Asia/Seoul'",
               poller: .denied, app: .ok, operator: .denied, finance: .denied),
        Action(name: "decide quiet hours", sql: "SELECT public.followup_quiet_hours_end(now(), 'Asia/Seoul', '21:00', '08:00')",
               poller: .ok, app: .ok, operator: .ok, finance: .denied),
    ]

    struct Rollback: Error {}

    /// Runs `sql` as `pool`'s login in a transaction that is always rolled back.
    func outcome(_ pool: ConnectionPool, _ sql: String) async -> Outcome {
        do {
            try await pool.withTransaction { tx in
                try await tx.execute(Query(sql: sql))
                throw Rollback()
            }
            return .ok
        } catch is Rollback {
            return .ok
        } catch let error as PostgresError {
            return .refused(error.sqlState ?? "\(error.code)")
        } catch {
            return .refused("\(error)")
        }
    }

    @Test("each group role may do exactly what docs/security.md says, and nothing else")
    func matrix() async throws {
        let db = try await TestDatabase.fresh()
        let a = try await db.pool.scalar("INSERT INTO channels (name, plan) VALUES ('A', 'paid') RETURNING id", as: Int64.self)
        let b = try await db.pool.scalar("INSERT INTO channels (name) VALUES ('B') RETURNING id", as: Int64.self)
        let customer = try await db.pool.scalar("INSERT INTO customers (channel_id, phone) VALUES (\(a), '+15551234567') RETURNING id", as: Int64.self)
        let chat = try await db.pool.scalar("INSERT INTO chats (channel_id, customer_id) VALUES (\(a), \(customer)) RETURNING id", as: Int64.self)
        let message = try await db.pool.scalar("INSERT INTO public.messages (chat_id, sender, body) VALUES (\(chat), 'manager', 'hi') RETURNING id", as: Int64.self)
        let followUp = try await db.pool.scalar("""
            INSERT INTO follow_ups (channel_id, chat_id, customer_id, first_message_id, last_message_id, message_count, offline_since, offline_reason)
            VALUES (\(a), \(chat), \(customer), \(message), \(message), 1, now(), 'left') RETURNING id
            """, as: Int64.self)
        let delivery = try await db.pool.scalar("""
            INSERT INTO deliveries (follow_up_id, channel_id, route, status, price_micros, country, segments)
            VALUES (\(followUp), \(a), 'sms', 'queued', 7900, 'US', 1) RETURNING id
            """, as: Int64.self)
        let transfer = try await db.pool.scalar("SELECT (wallet.credit(\(a), 1000000, 'paid', 'start', 'test')).id", as: Int64.self)
        let job = try await db.pool.scalar("SELECT public.jobs_enqueue('test.job')", as: Int64.self)
        let values = ["{A}": a, "{B}": b, "{C}": chat, "{D}": delivery, "{T}": transfer, "{J}": job, "{F}": followUp]

        var pools: [TestLogin: ConnectionPool] = [:]
        for login in TestLogin.allCases { pools[login] = try await db.pool(as: login, maxConnections: 2) }
        for action in Self.actions {
            var sql = action.sql
            for (placeholder, value) in values { sql = sql.replacingOccurrences(of: placeholder, with: String(value)) }
            for login in TestLogin.allCases {
                let got = await outcome(pools[login]!, sql)
                #expect(got == action.expected(login), "\(login.group): \(action.name)")
            }
        }
        for pool in pools.values { await pool.close() }
    }
}
