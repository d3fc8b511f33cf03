import Fakes
import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// Opt-outs and receipts as the poller sees them (docs/webhooks.md).
@Suite("Two-way: suppressions and receipts") struct TwoWayFlowTests {
    @Test("a customer who replied STOP gets no text; the delivery and the follow-up say why; email still goes")
    func stoppedCustomerGetsNoText() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let channel = try await h.channel()
            let customer = try await h.customer(channel: channel)
            try await Suppressions.suppress(channelID: channel, .phone, "+821012345678", reason: "replied STOP by SMS", on: h.pool)
            let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Where is my order?", answer: "It ships today.")

            let rows = try await h.settled(chat: chat, count: 2)
            let text = try #require(rows.first { $0.route != "email" })
            #expect(text.status == "suppressed")
            #expect(text.reason == "not sent: the recipient opted out (replied STOP by SMS)")
            #expect(rows.first { $0.route == "email" }?.status == "sent")
            #expect(h.twilio.messages.isEmpty)
            #expect(h.kakao.messages.isEmpty)
            let followUp = try #require(try await h.followUps(chat: chat).first)
            #expect(followUp.status == "notified")
            #expect(followUp.reason?.contains("text suppressed: replied STOP by SMS") == true)
            #expect(followUp.reason?.contains("email only") == true)
            // The delivery log answers "why not?" in SQL too.
            let why = try await h.pool.scalar("SELECT why FROM delivery_report WHERE chat_id = \(chat) AND kind = 'text'", as: String.self)
            #expect(why.contains("opted out"))
        }
    }

    @Test("an unsubscribed (or hard-bounced) address gets no email; nothing to send → the follow-up is cancelled, saying why")
    func unsubscribedGetsNoEmail() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            var options = FollowUpHarness.ChannelOptions()
            options.phone = false
            let channel = try await h.channel(options)
            let customer = try await h.customer(channel: channel, email: "Kim@Example.com")
            try await Suppressions.suppress(channelID: channel, .email, "kim@example.com", reason: "hard bounce", on: h.pool)
            let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Hello?", answer: "Hi! Here is the answer.")
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.first { $0.route == "email" }?.status == "suppressed")
            #expect(h.smtp.messages.isEmpty)
            let followUp = try #require(try await h.followUps(chat: chat).first)
            #expect(followUp.status == "cancelled")
            #expect(followUp.reason?.contains("email suppressed: hard bounce") == true)
        }
    }

    @Test("a STOP that arrives after planning but before sending still stops the text (checked at the last moment)")
    func lastMomentSuppression() async throws {
        try await withFollowUpHarness { h in
            // Messenger first, slowly, and blocked: its SMS replacement is planned after the STOP arrived.
            h.kakao.latency = .milliseconds(1500)
            h.kakao.setBehaviour(.blocked, for: "+821012345678")
            h.startWorker()
            var options = FollowUpHarness.ChannelOptions()
            options.email = false
            options.messenger = true
            let (channel, _, chat) = try await h.offlineChat(options, asks: "Hello?")
            #expect(try await eventually(timeout: .seconds(10)) {
                try await h.pool.scalar("""
                    SELECT count(*)::int FROM deliveries WHERE chat_id = \(chat) AND route = 'messenger' AND status = 'sending'
                    """, as: Int.self) == 1
            })
            try await Suppressions.suppress(channelID: channel, .phone, "+821012345678", reason: "replied STOP by SMS", on: h.pool)
            let rows = try await h.settled(chat: chat, count: 3).filter { $0.route != "email" }  // email: turned off
            #expect(rows.map(\.route) == ["messenger", "sms"], "\(rows)")
            #expect(rows.last?.status == "suppressed", "\(rows)")
            #expect(rows.last?.reason?.contains("replied STOP by SMS") == true)
            #expect(h.twilio.messages.isEmpty)
        }
    }

    @Test("a delivery receipt that arrives while the send is in flight wins when the send is recorded")
    func receiptDuringSend() async throws {
        try await withFollowUpHarness { h in
            h.twilio.latency = .milliseconds(1500)
            h.startWorker()
            var options = FollowUpHarness.ChannelOptions()
            options.email = false
            let (_, _, chat) = try await h.offlineChat(options, asks: "Hello?")
            // The provider is answering slowly; meanwhile its status callback arrives (as `serve` applies it).
            let sending = try await eventually(timeout: .seconds(10)) {
                try await h.pool.scalar("SELECT count(*)::int FROM deliveries WHERE chat_id = \(chat) AND status = 'sending'", as: Int.self) == 1
            }
            #expect(sending)
            let id = try await h.pool.scalar("SELECT id FROM deliveries WHERE chat_id = \(chat) AND route IN ('sms', 'lms')", as: Int64.self)
            let applied = try await DeliveryReceipts.apply(deliveryID: id, providerMessageID: nil, outcome: .delivered, reason: nil,
                                                           providerCode: nil, routes: ["sms", "lms"], on: h.pool)
            #expect(applied == .recorded)
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.first { $0.route != "email" }?.status == "delivered", "\(rows)")
            let cost = try await h.pool.scalar("SELECT cost_micros FROM deliveries WHERE id = \(id)", as: Int64.self)
            #expect(cost > 0)  // charged as a sent text: the receipt moves no money
        }
    }
}

@Suite("Messenger results") struct MessengerResultTests {
    @Test("a messenger text that fails after the gateway accepted it goes by SMS instead, exactly once")
    func lateFailureFallsBackToSMS() async throws {
        try await withFollowUpHarness { h in
            h.kakao.setBehaviour(.lateFailure(code: 3018, afterLookups: 2), for: "+821012345678")
            h.startWorker()
            h.startWorker()  // two pollers: the result is still handled once
            var options = FollowUpHarness.ChannelOptions()
            options.email = false
            options.messenger = true
            let (_, _, chat) = try await h.offlineChat(options, asks: "Hello?", answer: "Your parcel arrives tomorrow.")

            let done = try await eventually(timeout: .seconds(15)) {
                try await h.pool.scalar("""
                    SELECT count(*)::int FROM deliveries WHERE chat_id = \(chat) AND route = 'sms' AND status = 'sent'
                    """, as: Int.self) == 1
            }
            #expect(done)
            #expect(try await h.idle())
            let rows = try await h.deliveries(chat: chat).filter { $0.route != "email" }
            #expect(rows.map(\.route) == ["messenger", "sms"], "\(rows)")
            #expect(rows.first?.status == "undelivered")
            #expect(rows.first?.reason?.contains("code 3018") == true)
            #expect(h.twilio.messages(to: "+821012345678").count == 1)
            #expect(h.twilio.messages(to: "+821012345678").first?.body.contains("Your parcel arrives tomorrow.") == true)
            #expect(h.kakao.delivered(to: "+821012345678").isEmpty)
            let report = try await h.pool.first("""
                SELECT replaced_by_route, provider_code FROM delivery_report WHERE chat_id = \(chat) AND route = 'messenger'
                """)
            #expect(try report?.decode(String?.self, at: 0) == "sms")
            #expect(try report?.decode(String?.self, at: 1) == "3018")
        }
    }

    @Test("a messenger text the gateway reports delivered becomes delivered; no SMS")
    func deliveredResult() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            var options = FollowUpHarness.ChannelOptions()
            options.email = false
            options.messenger = true
            let (_, _, chat) = try await h.offlineChat(options, asks: "Hello?")
            #expect(try await eventually(timeout: .seconds(15)) {
                try await h.pool.scalar("""
                    SELECT count(*)::int FROM deliveries WHERE chat_id = \(chat) AND route = 'messenger' AND status = 'delivered'
                    """, as: Int.self) == 1
            })
            #expect(h.twilio.messages.isEmpty)
        }
    }
}
