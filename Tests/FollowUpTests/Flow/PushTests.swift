import Fakes
import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// Mobile SDK push integrated: push first; a receipt within the timeout ends it; otherwise text and email.
@Suite("Push first") struct PushTests {
    func pushChannel(_ h: FollowUpHarness, ackTimeout: String) async throws -> (channel: Int64, customer: Int64, chat: Int64) {
        var options = FollowUpHarness.ChannelOptions()
        options.push = true
        options.pushAckTimeout = ackTimeout
        let channel = try await h.channel(options)
        let customer = try await h.customer(channel: channel)
        let chat = try await h.chat(channel: channel, customer: customer)
        try await h.message(chat: chat, "customer", "Is my refund done?")
        try await h.activity(customer: customer, "left")
        return (channel, customer, chat)
    }

    @Test("an acknowledged push is all the customer gets")
    func acknowledged() async throws {
        let h = try await FollowUpHarness()
        defer { Task { await h.stop() } }
        h.startWorker()
        let (_, customer, chat) = try await pushChannel(h, ackTimeout: "2 seconds")
        let token = FollowUpHarness.androidToken("ack")
        try await h.device(customer: customer, token: token)
        try await h.message(chat: chat, "manager", "Yes, refunded today.")
        #expect(await eventually { h.fcm.pushes.count == 1 })
        let push = try #require(h.fcm.pushes.first)
        #expect(push.token == token)
        #expect(push.title == "Acme")
        #expect(push.body.contains("refunded"))
        // The app's SDK backend acknowledges, with the follow-up id the push carried.
        let followUpID = try #require(push.data["follow_up_id"])
        try await h.pool.execute("INSERT INTO push_receipts (follow_up_id) VALUES (\(Int64(followUpID)!))")
        #expect(try await eventually(timeout: .seconds(1.5)) { try await h.followUps(chat: chat).first?.status == "acknowledged" },
                "a receipt ends the wait at once, not at the deadline")
        try await Task.sleep(for: .seconds(2.5))
        #expect(try await h.deliveries(chat: chat).map(\.route) == ["push"])
        #expect(h.twilio.messages.isEmpty)
        #expect(h.smtp.messages.isEmpty)
    }

    @Test("a push nobody acknowledges is followed by text and email after the timeout")
    func unanswered() async throws {
        let h = try await FollowUpHarness()
        defer { Task { await h.stop() } }
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

    @Test("a push the provider rejects falls back to text and email at once")
    func rejected() async throws {
        let h = try await FollowUpHarness()
        defer { Task { await h.stop() } }
        h.startWorker()
        let (_, customer, chat) = try await pushChannel(h, ackTimeout: "60 seconds")
        let token = FollowUpHarness.androidToken("gone")
        h.fcm.reject(token, with: .unregistered)
        try await h.device(customer: customer, token: token)
        try await h.message(chat: chat, "manager", "Yes, refunded today.")
        let rows = try await h.settled(chat: chat, count: 3, timeout: .seconds(5))
        #expect(rows.first { $0.route == "push" }?.status == "failed", "\(rows)")
        #expect(rows.filter { $0.route != "push" }.allSatisfy { $0.status == "sent" }, "\(rows)")
        #expect(h.twilio.messages.count == 1)
    }

    @Test("a malformed device token is not sent; text and email go instead")
    func malformedToken() async throws {
        let h = try await FollowUpHarness()
        defer { Task { await h.stop() } }
        h.startWorker()
        let (_, customer, chat) = try await pushChannel(h, ackTimeout: "60 seconds")
        try await h.device(customer: customer, platform: "ios", token: "not-a-token")
        try await h.message(chat: chat, "manager", "Yes, refunded today.")
        let rows = try await h.settled(chat: chat, count: 3, timeout: .seconds(5))
        #expect(rows.first { $0.route == "push" } == .init(route: "push", status: "failed", reason: "malformed device token (ios)"), "\(rows)")
        #expect(rows.filter { $0.route != "push" }.allSatisfy { $0.status == "sent" }, "\(rows)")
        #expect(h.apns.pushes.isEmpty)
    }

    @Test("iOS devices get their push through APNs")
    func iosPush() async throws {
        let h = try await FollowUpHarness()
        defer { Task { await h.stop() } }
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
