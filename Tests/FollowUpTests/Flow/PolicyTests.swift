import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// Follow-ups that respect the customer (issue 14): one follow-up per absence, bots never start
/// one, a cap per chat and day, the customer's own preference.
@Suite("Follow-up policy") struct PolicyTests {
    /// A channel with `settings` (SQL assignments to `channels`), a customer who left, a chat.
    private func world(_ h: FollowUpHarness, _ settings: String, follow: String = "all") async throws
        -> (channel: Int64, customer: Int64, chat: Int64) {
        let channel = try await h.channel()
        try await h.pool.execute("UPDATE channels SET \(raw: settings) WHERE id = \(channel)")
        let customer = try await h.customer(channel: channel)
        try await h.app.execute("UPDATE customers SET follow_up = \(follow) WHERE id = \(customer)")
        let chat = try await h.chat(channel: channel, customer: customer)
        try await h.message(chat: chat, "customer", "Is it in stock?")
        try await h.activity(customer: customer, "left")
        return (channel, customer, chat)
    }

    /// Waits until the chat has `count` follow-ups and none is open, and returns them.
    private func finished(_ h: FollowUpHarness, chat: Int64, count: Int,
                          timeout: Duration = .seconds(15)) async throws -> [(status: String, reason: String?, count: Int)] {
        _ = try await eventually(timeout: timeout) {
            let rows = try await h.followUps(chat: chat)
            return rows.count >= count && rows.allSatisfy { !["pending", "awaiting_push_ack"].contains($0.status) }
        }
        _ = try await h.idle()
        return try await h.followUps(chat: chat)
    }

    @Test("with the cooldown on, three answers after a follow-up go out as one follow-up carrying all three")
    func cooldownMerges() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let w = try await world(h, "follow_up_cooldown = '6 seconds'")
            try await h.message(chat: w.chat, "manager", "Checking now.")
            #expect(try await finished(h, chat: w.chat, count: 1).map(\.count) == [1])
            // Three answers, closer together than the cooldown (the were 10 s apart against 10 minutes).
            for answer in ["Yes, two left.", "Reserved one for you.", "It ships tomorrow."] {
                try await h.message(chat: w.chat, "manager", answer)
                try await Task.sleep(for: .milliseconds(300))
            }
            let waiting = try await h.pool.first("SELECT status, not_before IS NOT NULL FROM follow_ups WHERE chat_id = \(w.chat) ORDER BY id DESC LIMIT 1")
            #expect(try waiting?.decode(String.self, at: 0) == "pending")
            #expect(try waiting?.decode(Bool.self, at: 1) == true)
            let followUps = try await finished(h, chat: w.chat, count: 2)
            #expect(followUps.map(\.count) == [1, 3], "\(followUps)")
            #expect(followUps.map(\.status) == ["notified", "notified"])
            let texts = h.twilio.messages(to: "+821012345678")
            #expect(texts.count == 2)
            let merged = texts.last?.body ?? ""
            #expect(merged.contains("Yes, two left.") && merged.contains("Reserved one for you.") && merged.contains("It ships tomorrow."), "\(merged)")
            let mails = await h.smtp.waitForMessages(count: 2, timeout: .seconds(5))
            #expect(mails.count == 2)
            #expect(mails.last?.parsed.decodedHeader("Subject") == "Acme sent you 3 new messages")
        }
    }

    @Test("with the cooldown off (0), each answer after a follow-up is a follow-up of its own")
    func cooldownOff() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            // Caps above the four texts this sends (the caps have a test of their own).
            let w = try await world(h, "follow_up_cooldown = '0', max_texts_per_chat_per_day = 10, max_emails_per_chat_per_day = 10")
            try await h.message(chat: w.chat, "manager", "Checking now.")
            _ = try await finished(h, chat: w.chat, count: 1)
            for (i, answer) in ["Yes, two left.", "Reserved one for you.", "It ships tomorrow."].enumerated() {
                try await h.message(chat: w.chat, "manager", answer)
                _ = try await finished(h, chat: w.chat, count: i + 2)
            }
            let followUps = try await h.followUps(chat: w.chat)
            #expect(followUps.map(\.count) == [1, 1, 1, 1], "\(followUps)")
            #expect(h.twilio.messages(to: "+821012345678").count == 4)
        }
    }

    @Test("a customer who comes back during the cooldown gets nothing more")
    func returnDuringCooldown() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let w = try await world(h, "follow_up_cooldown = '6 seconds'")
            try await h.message(chat: w.chat, "manager", "Checking now.")
            _ = try await finished(h, chat: w.chat, count: 1)
            try await h.message(chat: w.chat, "manager", "Yes, two left.")
            #expect(try await eventually { try await h.followUps(chat: w.chat).count == 2 })
            try await h.activity(customer: w.customer, "page_view")
            let followUps = try await finished(h, chat: w.chat, count: 2)
            #expect(followUps.map(\.status) == ["notified", "cancelled"], "\(followUps)")
            #expect(followUps.last?.reason == "customer came back before it was sent")
            try await Task.sleep(for: .seconds(1))
            #expect(h.twilio.messages(to: "+821012345678").count == 1)
            #expect(try await h.followUps(chat: w.chat).count == 2)
        }
    }

    @Test("a bot message never starts a follow-up on its own; it goes along with a manager's answer")
    func botFollowsManager() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let w = try await world(h, "follow_up_cooldown = '0'")
            try await h.message(chat: w.chat, "bot", "Rate our service!")
            #expect(try await h.idle())
            #expect(try await h.followUps(chat: w.chat).isEmpty)
            try await h.message(chat: w.chat, "manager", "Yes, it is.")
            let followUps = try await finished(h, chat: w.chat, count: 1)
            #expect(followUps.map(\.count) == [2])
            // After a manager's follow-up, a lone bot message stays alone.
            try await h.message(chat: w.chat, "bot", "Rate our service, please!")
            #expect(try await h.idle())
            #expect(try await h.followUps(chat: w.chat).count == 1)
        }
    }

    @Test("the 4th text and email of a chat in a day are capped: nothing sent, nothing charged")
    func capPerChat() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let w = try await world(h, "follow_up_cooldown = '0'")  // caps at their defaults, 3 and 3
            for i in 1...4 {
                try await h.message(chat: w.chat, "manager", "Answer \(i)")
                _ = try await finished(h, chat: w.chat, count: i)
            }
            let rows = try await h.settled(chat: w.chat, count: 8)
            #expect(rows.filter { $0.status == "sent" }.count == 6, "\(rows)")
            let capped = rows.filter { $0.status == "capped" }
            #expect(capped.map(\.route).sorted() == ["email", "sms"], "\(rows)")
            #expect(capped.first { $0.route == "sms" }?.reason == "cap reached: 3 texts per chat per 24 hours")
            #expect(h.twilio.messages(to: "+821012345678").count == 3)
            let money = try await h.pool.first("""
                SELECT sum(d.cost_micros) FILTER (WHERE d.status = 'capped')::bigint,
                       (SELECT count(*)::int FROM wallet.transfers t JOIN deliveries c ON c.id = t.delivery_id AND c.status = 'capped'),
                       (SELECT count(*)::int FROM wallet.transfers t WHERE t.kind = 'capture' AND t.channel_id = \(w.channel))
                FROM deliveries d WHERE d.chat_id = \(w.chat)
                """)
            #expect(try money?.decode(Int64.self, at: 0) == 0)
            #expect(try money?.decode(Int.self, at: 1) == 0)
            #expect(try money?.decode(Int.self, at: 2) == 3)
            let why = try await h.app.scalar("""
                SELECT why FROM delivery_report WHERE chat_id = \(w.chat) AND status = 'capped' AND kind = 'text'
                """, as: String.self)
            #expect(why == "cap reached: 3 texts per chat per 24 hours")
            #expect(try await h.followUps(chat: w.chat).last?.status == "cancelled")
        }
    }

    @Test("each preference value: all, email_only, text_only, none — with the reason recorded")
    func preferences() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            var expected: [(String, Int64, [String])] = []
            for (preference, outcome) in [("all", ["email/sent", "sms/sent"]),
                                          ("email_only", ["email/sent", "sms/excluded"]),
                                          ("text_only", ["email/excluded", "sms/sent"]),
                                          ("none", ["email/excluded", "sms/excluded"])] {
                let w = try await world(h, "follow_up_cooldown = '0'", follow: preference)
                try await h.message(chat: w.chat, "manager", "Yes.")
                expected.append((preference, w.chat, outcome))
            }
            for (preference, chat, outcome) in expected {
                let rows = try await h.settled(chat: chat, count: 2)
                #expect(rows.map { "\($0.route)/\($0.status)" }.sorted() == outcome, "\(preference): \(rows)")
                for row in rows where row.status == "excluded" {
                    #expect(row.reason?.contains("follow_up = \(preference)") == true, "\(preference): \(row)")
                }
            }
            let none = try #require(try await h.followUps(chat: expected[3].1).first)
            #expect(none.status == "cancelled")
            #expect(none.reason?.contains("customer's preference") == true, "\(String(describing: none.reason))")
            #expect(try await h.app.scalar("SELECT follow_up FROM customers ORDER BY id LIMIT 1", as: String.self) == "all")
            await #expect(throws: PostgresError.self) {
                try await h.app.execute("UPDATE customers SET follow_up = 'sometimes'")
            }
        }
    }
}
