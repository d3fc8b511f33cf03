import Fakes
import Foundation
@testable import FollowUp
import Jobs
import Logging
import Postgres
import Testing
import TestSupport
import Wallet

/// Many pollers, crashes between the provider call and the outcome: never a second text.
@Suite("Exactly once") struct ExactlyOnceTests {
    @Test("two pollers never send the same follow-up twice")
    func twoPollers() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            h.startWorker()
            let channel = try await h.channel()
            var chats: [Int64] = []
            for n in 0..<20 {
                let customer = try await h.customer(channel: channel, phone: "+8210000000\(String(format: "%02d", n))",
                                                    email: "c\(n)@example.com")
                let chat = try await h.chat(channel: channel, customer: customer)
                try await h.message(chat: chat, "customer", "Question \(n)")
                try await h.activity(customer: customer, "left")
                chats.append(chat)
            }
            // All answers at once, in one statement, as a busy team would.
            try await h.pool.execute("""
                INSERT INTO messages (chat_id, sender, body)
                SELECT id, 'manager', 'Answer to chat ' || id FROM chats WHERE channel_id = \(channel)
                """)
            #expect(try await eventually(timeout: .seconds(15)) {
                try await h.pool.scalar("SELECT count(*)::int FROM deliveries WHERE status = 'sent'", as: Int.self) == 40
            })
            #expect(try await h.idle())
            #expect(h.twilio.messages.count == 20)
            #expect(Set(h.twilio.messages.map(\.to)).count == 20)
            #expect(h.smtp.messages.count == 20)
            #expect(try await h.pool.scalar("SELECT count(*)::int FROM follow_ups", as: Int.self) == 20)
            let spent = try await h.pool.scalar("SELECT paid + promotional FROM wallet.balance(\(channel))", as: Int64.self)
            #expect(spent == 5_000_000 - 20 * 15000)
            #expect(try await Wallet.integrityProblems(on: h.pool).isEmpty)
        }
    }

    @Test("a crash between the provider call and the outcome: the rescuer looks it up and never texts twice")
    func crashBetweenCallAndOutcome() async throws {
        try await withFollowUpHarness { h in
            let called = LockedValue(false)
            // Poller A: on a delivery's first attempt, it marks it sending, holds the money, calls the
            // provider — and then "dies": it never records the outcome and never heartbeats again.
            h.startDyingPoller() { runner, payload, context in
                if case .proceed(let delivery, let followUp) = try await runner.prepare(payload.deliveryID, context) {
                    _ = try? await runner.call(delivery, followUp)
                    called.withLock { $0 = true }
                }
            }

            var options = FollowUpHarness.ChannelOptions()
            options.email = false
            let (channel, _, chat) = try await h.offlineChat(options)

            #expect(await eventually { called.withLock { $0 } })
            #expect(h.twilio.messages.count == 1)
            #expect(try await h.deliveries(chat: chat).first { $0.route == "sms" }?.status == "sending")
            #expect(try await h.pool.scalar("SELECT held FROM wallet.balance(\(channel))", as: Int64.self) == 15000)

            // Poller B (healthy) rescues the job once A's lease ran out and reconciles it.
            h.startWorker()
            let rows = try await h.settled(chat: chat, count: 2, timeout: .seconds(10))
            #expect(rows.first { $0.route == "sms" } == .init(route: "sms", status: "delivered", reason: "confirmed by the provider after an interruption"),
                    "\(rows)")
            #expect(h.twilio.messages.count == 1, "the rescuer must not text again")
            let balance = try await h.pool.first("SELECT paid + promotional, held FROM wallet.balance(\(channel))")
            #expect(try balance?.decode(Int64.self, at: 0) == 5_000_000 - 15000)
            #expect(try balance?.decode(Int64.self, at: 1) == 0)
            let providerID = try await h.pool.scalar("SELECT provider_message_id FROM deliveries WHERE chat_id = \(chat) AND route = 'sms'", as: String.self)
            #expect(providerID == h.twilio.messages.first?.sid)
            #expect(try await Wallet.integrityProblems(on: h.pool).isEmpty)
        }
    }

    @Test("a crash before the provider was reached: the rescuer finds nothing at the provider and sends once")
    func crashBeforeTheCall() async throws {
        try await withFollowUpHarness { h in
            let prepared = LockedValue(false)
            h.startDyingPoller() { runner, payload, context in
                _ = try await runner.prepare(payload.deliveryID, context)
                prepared.withLock { $0 = true }
            }

            var options = FollowUpHarness.ChannelOptions()
            options.email = false
            options.messenger = true
            let (_, _, chat) = try await h.offlineChat(options)
            #expect(await eventually { prepared.withLock { $0 } })
            h.startWorker()
            let rows = try await h.settled(chat: chat, count: 2, timeout: .seconds(10))
            #expect(rows.first { $0.route == "messenger" }?.status == "sent", "\(rows)")
            #expect(h.kakao.delivered(to: "+821012345678").count == 1)
            #expect(h.twilio.messages.isEmpty)
        }
    }
}
