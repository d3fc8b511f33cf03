import Foundation
import Postgres
import Testing
import TestSupport
@testable import Wallet

@Suite("Wallet roles and append-only history")
struct WalletRoleTests {
    /// Runs `sql` as `role` and returns the SQLSTATE it failed with (nil: it succeeded).
    func sqlState(_ pool: ConnectionPool, as role: String, _ statements: String...) async throws -> String? {
        do {
            try await pool.withTransaction { tx in
                try await tx.execute(Query(sql: "SET LOCAL ROLE \(role)"))
                for sql in statements { try await tx.execute(Query(sql: sql)) }
            }
            return nil
        } catch let error as PostgresError {
            return error.sqlState
        }
    }

    @Test("the poller and the app cannot UPDATE or DELETE ledger history, nor write entries itself, but the poller can post through the functions")
    func appRole() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: 1_000_000, reason: "start", by: "test", on: db.pool)
        for sql in ["UPDATE wallet.entries SET amount = amount + 1",
                    "DELETE FROM wallet.entries",
                    "UPDATE wallet.transfers SET reason = 'edited'",
                    "DELETE FROM wallet.transfers",
                    "TRUNCATE wallet.entries",
                    "UPDATE wallet.accounts SET balance = 99000000",
                    "INSERT INTO wallet.entries (transfer_id, account_id, amount) VALUES (1, 1, 5)",
                    "SELECT wallet.post('forged', 'credit', \(channel), 'forged', 'me', ARRAY[1, 2], ARRAY[-5, 5])"] {
            #expect(try await sqlState(db.pool, as: "followup_poller", sql) == "42501", "\(sql)")
            #expect(try await sqlState(db.pool, as: "followup_app", sql) == "42501", "\(sql)")
        }
        // What the product does is allowed.
        let delivery = try await Fixtures.delivery(db.pool, channel: channel, price: 7_900)
        #expect(try await sqlState(db.pool, as: "followup_poller", "SELECT * FROM wallet.hold(\(channel), \(delivery), 7900, 'sms')") == nil)
        #expect(try await sqlState(db.pool, as: "followup_poller", "SELECT wallet.capture(\(delivery))") == nil)
        #expect(try await sqlState(db.pool, as: "followup_poller", "SELECT * FROM wallet.balance(\(channel))") == nil)
        try await Fixtures.markDelivery(db.pool, delivery, status: "sent")
        #expect(try await Wallet.balance(channelID: channel, on: db.pool).paidMicros == 992_100)
    }

    @Test("history is append-only even for the owner; the balance cache moves only with an entry; unbalanced transfers do not commit")
    func databaseRules() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: 1_000_000, reason: "start", by: "test", on: db.pool)
        for sql in ["UPDATE wallet.entries SET amount = amount + 1", "DELETE FROM wallet.transfers",
                    "TRUNCATE wallet.entries CASCADE", "UPDATE wallet.accounts SET balance = balance + 1"] {
            #expect(try await sqlState(db.pool, as: "followup", sql) == "WL009", "\(sql)")
        }
        // A leg appended to an old transfer (forging the posting marker) fails at commit.
        let forged = try await sqlState(db.pool, as: "followup", "SELECT set_config('wallet.posting', '1', true)", """
            INSERT INTO wallet.entries (transfer_id, account_id, amount)
            SELECT 1, id, 5 FROM wallet.accounts WHERE channel_id = \(channel) AND kind = 'paid'
            """)
        #expect(forged == "WL010")
        // A transfer without entries cannot be written: only wallet.post writes transfers, with their legs.
        #expect(try await sqlState(db.pool, as: "followup", """
            INSERT INTO wallet.transfers (idempotency_key, kind, channel_id, amount, reason) VALUES ('empty', 'credit', \(channel), 5, 'none')
            """) == "WL009")
        // Legs that do not sum to zero are refused up front.
        #expect(try await sqlState(db.pool, as: "followup", """
            SELECT wallet.post('lopsided', 'credit', \(channel), 'r', 'me',
                ARRAY[(SELECT id FROM wallet.accounts WHERE kind = 'adjustments'), (SELECT id FROM wallet.accounts WHERE channel_id = \(channel) AND kind = 'paid')],
                ARRAY[-5, 6])
            """) == "WL008")
        try await Fixtures.expectSound(db.pool)
    }

    @Test("the finance role reads the finance views and nothing else")
    func financeRole() async throws {
        let db = try await TestDatabase.fresh()
        let channel = try await Fixtures.channel(db.pool)
        try await Wallet.credit(channelID: channel, amountMicros: 1_000_000, reason: "start", by: "test", on: db.pool)
        for view in ["trial_balance", "statement", "integrity_checks", "monthly_report", "monthly_texts", "account_balances", "open_holds"] {
            #expect(try await sqlState(db.pool, as: "followup_finance", "SELECT * FROM finance.\(view)") == nil, "\(view)")
        }
        for sql in ["SELECT * FROM wallet.accounts", "SELECT * FROM wallet.entries", "SELECT * FROM channels",
                    "SELECT * FROM deliveries", "SELECT * FROM jobs", "SELECT * FROM wallet.balance(\(channel))",
                    "SELECT wallet.credit(\(channel), 5, 'paid', 'x', 'y')"] {
            #expect(try await sqlState(db.pool, as: "followup_finance", sql) == "42501", "\(sql)")
        }
    }
}
