import Fakes
import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// Mobile SDK push integrated: push first; a receipt within the timeout ends it; otherwise text and email.
@Suite("Push first") struct PushTests {
    func pushChannel(_ h: FollowUpHarness, ackTimeout: String) async throws -> (channel: Int64, customer: Int64, chat: Int64) {
        let channel = try await h.channel(.push(ackTimeout: ackTimeout))
        let customer = try await h.customer(channel: channel)
        let chat = try await h.chat(channel: channel, customer: customer)
        try await h.message(chat: chat, "customer", "Is my refund done?")
        try await h.activity(customer: customer, "left")
        return (channel, customer, chat)
    }

    @Test("an acknowledged push is all the customer gets")
    func acknowledged() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            // 8 s: a receipt must end the wait well before it, even on a loaded machine.
            let (_, customer, chat) = try await pushChannel(h, ackTimeout: "8 seconds")
            let token = FollowUpHarness.androidToken("ack")
            try await h.device(customer: customer, token: token)
            try await h.message(chat: chat, "manager", "Yes, refunded today.")
            #expect(await eventually { h.fcm.pushes.count == 1 })
            let push = try #require(h.fcm.pushes.first)
            #expect(push.token == token)
            #expect(push.title == "Acme")
            #expect(push.body.contains("refunded"))
            // The app's SDK backend acknowledges, quoting what the push carried.
            try await acknowledge(h, push.data)
            #expect(try await eventually(timeout: .seconds(6)) { try await h.followUps(chat: chat).first?.status == "acknowledged" },
                    "a receipt ends the wait at once, not at the deadline")
            try await Task.sleep(for: .seconds(8.5))
            #expect(try await h.deliveries(chat: chat).map(\.route) == ["push"])
            #expect(h.twilio.messages.isEmpty)
            #expect(h.smtp.messages.isEmpty)
        }
    }

    /// The receipt the app's SDK backend writes: everything in it comes from the push's payload.
    func acknowledge(_ h: FollowUpHarness, _ data: [String: String], followUp: String? = nil, device: String? = nil,
                     token: String? = nil) async throws {
        try await h.app.execute("""
            INSERT INTO push_receipts (follow_up_id, device_id, token)
            VALUES (\(Int64(followUp ?? data["follow_up_id"] ?? "0")), \(Int64(device ?? data["device_id"] ?? "")),
                    \(token ?? data["receipt_token"]))
            """)
    }

    @Test("forged receipts (wrong token, another customer's push, a replay, an unknown follow-up) acknowledge nothing and are kept as rejected")
    func forgedReceipts() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let victim = try await pushChannel(h, ackTimeout: "3 seconds")
            try await h.device(customer: victim.customer, token: FollowUpHarness.androidToken("victim"))
            let attacker = try await h.customer(channel: victim.channel, name: "Eve", phone: "+821099998888")
            let attackerChat = try await h.chat(channel: victim.channel, customer: attacker)
            try await h.message(chat: attackerChat, "customer", "hi")
            try await h.activity(customer: attacker, "left")
            try await h.device(customer: attacker, token: FollowUpHarness.androidToken("attacker"))
            try await h.message(chat: victim.chat, "manager", "Your refund is done.")
            try await h.message(chat: attackerChat, "manager", "Hello Eve.")
            #expect(await eventually { h.fcm.pushes.count == 2 })
            let victimPush = try #require(h.fcm.pushes.first { $0.token == FollowUpHarness.androidToken("victim") })
            let attackerPush = try #require(h.fcm.pushes.first { $0.token == FollowUpHarness.androidToken("attacker") })
            // The attacker's app knows its own push; it guesses the victim's follow-up id.
            try await acknowledge(h, attackerPush.data, followUp: victimPush.data["follow_up_id"])
            try await acknowledge(h, victimPush.data, token: "00000000-0000-0000-0000-000000000000")
            try await acknowledge(h, victimPush.data, device: attackerPush.data["device_id"])
            try await acknowledge(h, victimPush.data, followUp: "424242")
            // The attacker acknowledges its own push twice: the second is a replay.
            try await acknowledge(h, attackerPush.data)
            try await acknowledge(h, attackerPush.data)
            let verdicts = try await h.pool.query("SELECT status, reason FROM push_receipts ORDER BY id")
                .map { (try $0.decode(String.self, at: 0), try $0.decode(String?.self, at: 1)) }
            #expect(verdicts.map(\.0) == ["rejected", "rejected", "rejected", "rejected", "accepted", "rejected"], "\(verdicts)")
            #expect(verdicts[1].1 == "no push of this follow-up carried this token")
            #expect(verdicts[2].1 == "the token belongs to another device")
            #expect(verdicts[5].1 == "already acknowledged")
            // The victim's follow-up was never acknowledged: text and email follow the timeout.
            let rows = try await h.settled(chat: victim.chat, count: 3, timeout: .seconds(10))
            #expect(rows.map(\.route).sorted() == ["email", "push", "sms"], "\(rows)")
            // The attacker's own follow-up ends at its push timeout, which may come after the victim's texts.
            #expect(try await eventually { try await h.followUps(chat: attackerChat).first?.status == "acknowledged" })
        }
    }

    @Test("a push nobody acknowledges is followed by text and email after the timeout")
    func unanswered() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            // 3 s: long enough that a loaded machine still looks before the deadline.
            let (_, customer, chat) = try await pushChannel(h, ackTimeout: "3 seconds")
            try await h.device(customer: customer, token: FollowUpHarness.androidToken("quiet"))
            try await h.message(chat: chat, "manager", "Yes, refunded today.")
            #expect(await eventually { h.fcm.pushes.count == 1 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(h.twilio.messages.isEmpty, "not before the timeout")
            let rows = try await h.settled(chat: chat, count: 3, timeout: .seconds(10))
            #expect(rows.map(\.route).sorted() == ["email", "push", "sms"], "\(rows)")
            #expect(rows.allSatisfy { $0.status == "sent" }, "\(rows)")
            #expect(try await h.followUps(chat: chat).first?.reason?.hasPrefix("push not acknowledged within 3s") == true)
            // And the text waited for the deadline: created at least 3 s after the push.
            let gap = try await h.pool.scalar("""
                SELECT extract(epoch FROM max(created_at) FILTER (WHERE route = 'sms') - min(created_at) FILTER (WHERE route = 'push'))::float8
                FROM deliveries
                """, as: Double.self)
            #expect(gap >= 2.9, "text created \(gap) s after the push")
        }
    }

    /// A push that cannot go out: the provider rejects its token, or the token is malformed and
    /// never leaves (the reason the delivery records, when the test knows it exactly).
    enum UnsendablePush: String, CaseIterable, Sendable {
        case rejectedByFCM, malformedToken
        var platform: String { self == .rejectedByFCM ? "android" : "ios" }
        var token: String { self == .rejectedByFCM ? FollowUpHarness.androidToken("gone") : "not-a-token" }
        var reason: String? { self == .malformedToken ? "malformed device token (ios)" : nil }
    }

    @Test("a push that cannot go out (rejected by the provider, or a malformed token) falls back to text and email at once",
          arguments: UnsendablePush.allCases)
    func unsendablePush(_ push: UnsendablePush) async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let (_, customer, chat) = try await pushChannel(h, ackTimeout: "60 seconds")
            if push == .rejectedByFCM { h.fcm.reject(push.token, with: .unregistered) }
            try await h.device(customer: customer, platform: push.platform, token: push.token)
            try await h.message(chat: chat, "manager", "Yes, refunded today.")
            let rows = try await h.settled(chat: chat, count: 3, timeout: .seconds(20))
            let pushRow = try #require(rows.first { $0.route == "push" }, "\(rows)")
            #expect(pushRow.status == "failed", "\(rows)")
            if let reason = push.reason { #expect(pushRow.reason == reason) }
            #expect(rows.filter { $0.route != "push" }.allSatisfy { $0.status == "sent" }, "\(rows)")
            #expect(h.twilio.messages.count == 1)
            if push == .malformedToken { #expect(h.apns.pushes.isEmpty, "a malformed token never reaches the provider") }
        }
    }

    @Test("iOS devices get their push through APNs")
    func iosPush() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let (_, customer, chat) = try await pushChannel(h, ackTimeout: "30 seconds")
            let token = String(repeating: "ab12", count: 16)
            try await h.device(customer: customer, platform: "ios", token: token)
            try await h.message(chat: chat, "manager", "Yes, refunded today.")
            #expect(await eventually { h.apns.pushes.count == 1 })
            #expect(h.apns.pushes.first?.deviceToken == token)
            #expect(h.apns.pushes.first?.data["follow_up_id"] != nil)
        }
    }
}
