import Foundation
import Postgres
import Testing
import TestSupport
@testable import FollowUp

/// Issue 16: `activity` by day with partitions made ahead and dropped after the retention, the
/// offline check right across a day boundary and after days are dropped, retention of deliveries
/// and follow-ups that leaves the ledger whole, and `channel_id` on every tenant table. The clock
/// is an argument (`now:`), so days pass without sleeping.
@Suite("Tables that stay small") struct TablesThatStaySmallTests {
    static let day: TimeInterval = 86_400

    /// The attached day partitions of `activity`, oldest first.
    static func partitions(_ pool: ConnectionPool) async throws -> [String] {
        try await pool.query("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'public.activity'::regclass AND c.relname <> 'activity_default' ORDER BY c.relname
            """).map { try $0.decode(String.self, at: 0) }
    }

    static func name(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd"
        return "activity_p" + formatter.string(from: date)
    }

    /// (partition, kind, at) of every row of the customer, newest first.
    static func rows(_ pool: ConnectionPool, customer: Int64) async throws -> [(String, String, Date)] {
        try await pool.query("""
            SELECT tableoid::regclass::text, kind, at FROM public.activity WHERE customer_id = \(customer) ORDER BY at DESC
            """).map { (try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1), try $0.decode(Date.self, at: 2)) }
    }

    @Test("partitions are made ahead and days past the retention dropped; each customer's newest row stays")
    func partitionsAheadAndRetention() async throws {
        try await withTestScope { scope in
            let db = try await scope.database()
            let app = scope.closing(try await db.pool(as: .app))
            let poller = scope.closing(try await db.pool(as: .poller))
            let now = try await db.pool.scalar("SELECT now()", as: Date.self)
            func insert(_ customer: Int64, _ kind: String, ago seconds: TimeInterval) async throws {
                try await app.execute("""
                    INSERT INTO activity (customer_id, kind, at) VALUES (\(customer), \(kind), \(now.addingTimeInterval(-seconds)))
                    """)
            }
            try await insert(1, "heartbeat", ago: 5 * Self.day)
            try await insert(1, "heartbeat", ago: 3600)            // 1's newest: kept in its own day
            try await insert(2, "page_view", ago: 6 * Self.day)
            try await insert(2, "left", ago: 5 * Self.day)         // 2's newest: in a day that goes
            try await insert(3, "heartbeat", ago: 20 * Self.day)   // older than any partition: the default took it
            #expect(try await Self.rows(db.pool, customer: 3).map(\.0) == ["activity_default"])

            var settings = RetentionSettings()
            settings.activity = .seconds(3 * 86_400)
            settings.activityDaysAhead = 2
            let first = try await ActivityPartitions.maintain(now: now, settings: settings, on: poller)
            let parts = try await Self.partitions(db.pool)
            // Ahead: today + 2 days; kept: from the day of (now - 3 days); nothing older.
            #expect(parts.contains(Self.name(now.addingTimeInterval(2 * Self.day))), "\(parts)")
            #expect(parts.first == Self.name(now.addingTimeInterval(-3 * Self.day)), "\(parts)")
            #expect(first.dropped.contains(Self.name(now.addingTimeInterval(-5 * Self.day))), "\(first)")
            #expect(first.carried == 1, "only customer 2 had its newest row in a dropped day: \(first)")
            #expect(try await Self.rows(db.pool, customer: 1).count == 1, "1's old row went with its day")
            let two = try await Self.rows(db.pool, customer: 2)
            #expect(two.count == 1 && two[0].0 == "activity_default" && two[0].1 == "left", "2's newest row was kept: \(two)")
            #expect(try await Self.rows(db.pool, customer: 3).count == 1)
            // The same call again changes nothing.
            #expect(try await ActivityPartitions.maintain(now: now, settings: settings, on: poller) == .init())

            // Ten days later (the clock is an argument): the days ahead exist, and every row is in
            // the default partition, one per customer, the newest each had.
            let later = now.addingTimeInterval(10 * Self.day)
            let second = try await ActivityPartitions.maintain(now: later, settings: settings, on: poller)
            #expect(second.created.contains(Self.name(later.addingTimeInterval(2 * Self.day))), "\(second)")
            #expect(try await Self.partitions(db.pool).first == Self.name(later.addingTimeInterval(-3 * Self.day)))
            #expect(try await db.pool.scalar("SELECT count(*)::int FROM public.activity_default", as: Int.self) == 3)
            let one = try await Self.rows(db.pool, customer: 1)
            #expect(one.count == 1 && abs(one[0].2.timeIntervalSince(now.addingTimeInterval(-3600))) < 0.001, "\(one)")

            // A longer retention makes the days again; the default's rows move into their day.
            settings.activity = .seconds(40 * 86_400)
            _ = try await ActivityPartitions.maintain(now: now, settings: settings, on: poller)
            #expect(try await Self.rows(db.pool, customer: 3).map(\.0) == [Self.name(now.addingTimeInterval(-20 * Self.day))])
            // The app's insert still works unchanged.
            try await app.execute("INSERT INTO activity (customer_id, kind) VALUES (4, 'heartbeat')")
            let today = Self.name(try await db.pool.scalar("SELECT now()", as: Date.self))
            #expect(try await Self.rows(db.pool, customer: 4).map(\.0) == [today])
        }
    }

    @Test("the offline check reads the newest row across a day boundary, before and after the days are dropped")
    func offlineCheckAcrossPartitions() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let channel = try await h.channel()
            // Midnight (UTC) two days ago: the rows sit 0.1 s either side of it, in two day partitions.
            let midnight = try await h.pool.scalar("""
                SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '2 days'
                """, as: Date.self)
            let before = midnight.addingTimeInterval(-0.1), after = midnight.addingTimeInterval(0.1)

            /// A customer whose rows are `older` then `newer` across midnight; returns the follow-up's
            /// (offline_since, offline_reason) once a manager answers.
            func check(older: String, newer: String, dropFirst: Bool) async throws -> (Date, String) {
                let customer = try await h.customer(channel: channel)
                // The days exist (an earlier round may have dropped them: made again, default 7-day retention).
                _ = try await ActivityPartitions.maintain(settings: RetentionSettings(), on: h.pool)
                try await h.app.execute("""
                    INSERT INTO activity (customer_id, kind, at) VALUES (\(customer), \(older), \(before)), (\(customer), \(newer), \(after))
                    """)
                let parts = try await Self.rows(h.pool, customer: customer).map(\.0)
                #expect(parts == [Self.name(after), Self.name(before)], "one row in each day: \(parts)")
                if dropFirst {
                    var settings = RetentionSettings()
                    settings.activity = .seconds(86_400)
                    let report = try await ActivityPartitions.maintain(settings: settings, on: h.pool)
                    #expect(report.dropped.contains(Self.name(after)), "\(report)")
                    #expect(try await Self.rows(h.pool, customer: customer).map(\.1) == [newer], "only the newest row is left")
                }
                let chat = try await h.chat(channel: channel, customer: customer)
                try await h.message(chat: chat, "customer", "Is my order on its way?")
                try await h.message(chat: chat, "manager", "It shipped this morning.")
                #expect(try await eventually(timeout: .seconds(20)) { try await !h.followUps(chat: chat).isEmpty })
                let row = try #require(try await h.pool.first("SELECT offline_since, offline_reason FROM follow_ups WHERE chat_id = \(chat)"))
                return (try row.decode(Date.self, at: 0), try row.decode(String.self, at: 1))
            }
            let timeout = h.settings.offlineTimeout?.seconds ?? 270
            for dropFirst in [false, true] {
                let quiet = try await check(older: "left", newer: "heartbeat", dropFirst: dropFirst)
                #expect(quiet.1.hasPrefix("no activity for"), "\(quiet)")
                #expect(abs(quiet.0.timeIntervalSince(after.addingTimeInterval(timeout))) < 0.001, "offline since the heartbeat + timeout: \(quiet)")
                let left = try await check(older: "heartbeat", newer: "left", dropFirst: dropFirst)
                #expect(left.1 == "left the website", "\(left)")
                #expect(abs(left.0.timeIntervalSince(after)) < 0.001, "\(left)")
            }
        }
    }

    @Test("retention deletes old deliveries and follow-ups in batches; the ledger, what it names and each chat's newest follow-up stay")
    func retentionKeepsTheLedger() async throws {
        try await withFollowUpHarness { h in
            let channel = try await h.channel()
            let customer = try await h.customer(channel: channel)
            let chat = try await h.chat(channel: channel, customer: customer)
            let other = try await h.chat(channel: channel, customer: customer)
            try await h.message(chat: chat, "customer", "Hello?")
            try await h.message(chat: chat, "manager", "Hi!")
            try await h.message(chat: other, "manager", "Hi there")
            let message = try await h.pool.scalar("SELECT max(id) FROM messages", as: Int64.self)
            func followUp(chat: Int64, _ status: String, daysAgo: Double) async throws -> Int64 {
                try await h.pool.scalar("""
                    INSERT INTO follow_ups (channel_id, chat_id, customer_id, status, first_message_id, last_message_id, message_count,
                                            offline_since, offline_reason, created_at, finished_at)
                    VALUES (\(channel), \(chat), \(customer), \(status), \(message), \(message), 1, now() - \(daysAgo) * interval '1 day',
                            'left the website', now() - \(daysAgo) * interval '1 day', now() - \(daysAgo) * interval '1 day')
                    RETURNING id
                    """, as: Int64.self)
            }
            func delivery(_ followUp: Int64, _ route: String, _ status: String, daysAgo: Double, price: Int64 = 0) async throws -> Int64 {
                try await h.pool.scalar("""
                    INSERT INTO deliveries (follow_up_id, channel_id, chat_id, customer_id, route, status, price_micros, created_at)
                    VALUES (\(followUp), \(channel), \(chat), \(customer), \(route), \(status), \(price), now() - \(daysAgo) * interval '1 day')
                    RETURNING id
                    """, as: Int64.self)
            }
            let oldNotified = try await followUp(chat: chat, "notified", daysAgo: 100)
            let oldCancelled = try await followUp(chat: chat, "cancelled", daysAgo: 99)
            let charged = try await followUp(chat: chat, "notified", daysAgo: 98)
            let newest = try await followUp(chat: chat, "notified", daysAgo: 97)        // the chat's newest: stays
            let onlyOne = try await followUp(chat: other, "notified", daysAgo: 100)     // the other chat's newest: stays
            let recent = try await followUp(chat: chat, "cancelled", daysAgo: 1)

            let oldEmail = try await delivery(oldNotified, "email", "sent", daysAgo: 100)
            let oldPush = try await delivery(oldNotified, "push", "failed", daysAgo: 100)
            let sms = try await delivery(charged, "sms", "sending", daysAgo: 98, price: 15_000)
            #expect(try await h.pool.first("SELECT * FROM wallet.hold(\(channel), \(sms), 15000::bigint, 'sms')") != nil)
            try await h.pool.execute("UPDATE deliveries SET status = 'sent', cost_micros = 15000 WHERE id = \(sms)")
            #expect(try await h.pool.scalar("SELECT wallet.capture(\(sms)) IS NOT NULL", as: Bool.self))
            let stuck = try await delivery(newest, "email", "queued", daysAgo: 97)      // not finished: stays
            let fresh = try await delivery(recent, "email", "excluded", daysAgo: 1)
            try await h.pool.execute("""
                INSERT INTO push_receipts (follow_up_id, token) VALUES (\(oldNotified), 'old'), (\(newest), 'kept')
                """)
            try await h.pool.execute("""
                INSERT INTO inbound_events (source, event_id, outcome, received_at)
                VALUES ('sms', 'SM-old', 'message', now() - interval '40 days'), ('sms', 'SM-new', 'message', now())
                """)
            let ledger = "SELECT (SELECT count(*) FROM wallet.transfers)::int * 1000 + (SELECT count(*) FROM wallet.entries)::int"
            let ledgerBefore = try await h.pool.scalar(Query(sql: ledger), as: Int.self)

            var settings = RetentionSettings()
            settings.batch = 1                         // one row of each kind per transaction: the loop goes on
            let poller = h.scope.closing(try await h.db.pool(as: .poller))
            let report = try await Pruning.run(settings: settings, on: poller)
            #expect(report.deliveries == 2 && report.followUps == 2 && report.pushReceipts == 1 && report.inboundEvents == 1, "\(report)")
            #expect(report.batches >= 3, "\(report)")

            let deliveries = try await h.pool.query("SELECT id FROM deliveries ORDER BY id").map { try $0.decode(Int64.self, at: 0) }
            #expect(deliveries == [sms, stuck, fresh], "the charged text, the unfinished and the recent stay")
            #expect(!deliveries.contains(oldEmail) && !deliveries.contains(oldPush))
            let followUps = try await h.pool.query("SELECT id FROM follow_ups ORDER BY id").map { try $0.decode(Int64.self, at: 0) }
            #expect(followUps == [charged, newest, onlyOne, recent], "\(followUps); gone: \(oldNotified), \(oldCancelled)")
            #expect(try await h.pool.scalar("SELECT count(*)::int FROM push_receipts", as: Int.self) == 1)
            #expect(try await h.pool.scalar("SELECT string_agg(event_id, ',') FROM inbound_events", as: String.self) == "SM-new")
            // The ledger: untouched, and sound by finance's own checks.
            #expect(try await h.pool.scalar(Query(sql: ledger), as: Int.self) == ledgerBefore)
            #expect(try await h.pool.scalar("SELECT count(*)::int FROM finance.integrity_checks", as: Int.self) == 0)
            // Nothing is left to prune: the next run deletes nothing.
            #expect(try await Pruning.run(settings: settings, on: poller).total == 0)
        }
    }

    @Test("channel_id is filled from the parent on every tenant table; the app's inserts are unchanged")
    func channelIDFilled() async throws {
        try await withFollowUpHarness { h in
            let channel = try await h.channel()
            let elsewhere = try await h.channel()
            let customer = try await h.customer(channel: channel)
            let chat = try await h.chat(channel: channel, customer: customer)
            try await h.message(chat: chat, "customer", "Hello")
            // A wrong channel_id given by an insert is corrected from the parent.
            try await h.app.execute("INSERT INTO messages (chat_id, sender, body, channel_id) VALUES (\(chat), 'manager', 'Hi', \(elsewhere))")
            try await h.app.execute("INSERT INTO chat_reads (chat_id) VALUES (\(chat))")
            try await h.device(customer: customer, token: FollowUpHarness.androidToken("tenant"))
            let followUp = try await h.pool.scalar("""
                INSERT INTO follow_ups (channel_id, chat_id, customer_id, first_message_id, last_message_id, message_count, offline_since, offline_reason)
                SELECT \(channel), \(chat), \(customer), max(id), max(id), 1, now(), 'left the website' FROM messages RETURNING id
                """, as: Int64.self)
            try await h.app.execute("INSERT INTO push_receipts (follow_up_id, token) VALUES (\(followUp), 'nope')")
            for table in ["messages", "chat_reads", "customer_devices", "push_receipts"] {
                let channels = try await h.pool.query(Query(sql: "SELECT DISTINCT channel_id FROM public.\(table)"))
                    .map { try $0.decode(Int64?.self, at: 0) }
                #expect(channels == [channel], "\(table): \(channels)")
            }
            // A message for a chat that does not exist still fails with its own, named error.
            await #expect(throws: PostgresError.self) {
                try await h.app.execute("INSERT INTO messages (chat_id, sender, body) VALUES (-1, 'manager', 'Hi')")
            }
            do {
                try await h.app.execute("INSERT INTO messages (chat_id, sender, body) VALUES (-1, 'manager', 'Hi')")
            } catch {
                #expect("\(error)".contains("messages_chat_known"), "\(error)")
            }
            // activity: the app may give it (a sharded deployment must); nothing is looked up.
            try await h.app.execute("INSERT INTO activity (customer_id, kind, channel_id) VALUES (\(customer), 'heartbeat', \(channel))")
            try await h.app.execute("INSERT INTO activity (customer_id, kind) VALUES (\(customer), 'heartbeat')")
            #expect(try await h.pool.scalar("SELECT count(channel_id)::int FROM activity WHERE customer_id = \(customer)", as: Int.self) == 1)
        }
    }
}
