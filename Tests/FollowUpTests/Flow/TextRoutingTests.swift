import Fakes
import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// Texts: messenger (SNS) first when the channel has it, else or instead SMS/LMS — exactly one.
@Suite("Text routing") struct TextRoutingTests {
    func setUp(_ h: FollowUpHarness, messenger: Bool, phone: String = "+821012345678") async throws -> Int64 {
        var options = FollowUpHarness.ChannelOptions()
        options.messenger = messenger
        options.email = false
        let channel = try await h.channel(options)
        let customer = try await h.customer(channel: channel, phone: phone)
        let chat = try await h.chat(channel: channel, customer: customer)
        try await h.message(chat: chat, "customer", "Hello")
        try await h.activity(customer: customer, "left")
        return chat
    }

    @Test("a channel with messenger settings sends by messenger only")
    func messengerDelivered() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let chat = try await setUp(h, messenger: true)
            try await h.message(chat: chat, "manager", "Your order shipped.")
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.first == .init(route: "messenger", status: "sent", reason: nil), "\(rows)")
            #expect(h.kakao.delivered(to: "+821012345678").count == 1)
            #expect(h.twilio.messages.isEmpty)
            let price = try await h.pool.scalar("SELECT cost_micros FROM deliveries WHERE chat_id = \(chat) AND route = 'messenger'", as: Int64.self)
            #expect(price == 6000)
        }
    }

    @Test("messenger blocked by the recipient: an SMS replaces it", arguments: [FakeKakao.Behaviour.blocked, .notAUser])
    func messengerBlocked(_ behaviour: FakeKakao.Behaviour) async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            h.kakao.setBehaviour(behaviour, for: "+821012345678")
            let chat = try await setUp(h, messenger: true)
            try await h.message(chat: chat, "manager", "Your order shipped.")
            let rows = try await h.settled(chat: chat, count: 3)
            let messenger = try #require(rows.first { $0.route == "messenger" })
            #expect(messenger.status == "failed")
            #expect(messenger.reason == (behaviour == .blocked ? "blocked by recipient (code 3018)" : "recipient is not a messenger user (code 3019)"))
            #expect(rows.first { $0.route == "sms" }?.status == "sent", "\(rows)")
            #expect(h.twilio.messages.count == 1)
            // The SMS carries the same answer the messenger would have.
            #expect(h.twilio.messages.first?.body.contains("Your order shipped.") == true, "\(h.twilio.messages.first?.body ?? "")")
            #expect(h.kakao.delivered(to: "+821012345678").isEmpty)
            let replaced = try await h.pool.scalar("""
                SELECT replaced_by_route FROM delivery_report WHERE chat_id = \(chat) AND route = 'messenger'
                """, as: String.self)
            #expect(replaced == "sms")
        }
    }

    @Test("a long Korean answer goes as LMS with a subject")
    func longKoreanIsLMS() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let chat = try await setUp(h, messenger: false)
            let answer = String(repeating: "주문하신 상품은 오늘 발송되었습니다. 배송 조회는 링크를 확인해 주세요. ", count: 4)
            try await h.message(chat: chat, "manager", answer)
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.first == .init(route: "lms", status: "sent", reason: nil), "\(rows)")
            let stored = try await h.pool.first("SELECT subject, segments, cost_micros FROM deliveries WHERE chat_id = \(chat) AND route = 'lms'")
            #expect(try stored?.decode(String?.self, at: 0) == "[Acme]")
            #expect(try stored?.decode(Int64.self, at: 2) == 37000)
            #expect(h.twilio.messages.first?.body.contains("주문하신 상품은") == true)
        }
    }

    @Test("a short Korean answer goes as SMS; a US number is priced per segment")
    func shortIsSMS() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            var options = FollowUpHarness.ChannelOptions()
            options.email = false
            let channel = try await h.channel(options)
            let customer = try await h.customer(channel: channel, phone: "+14155550100", country: "US")
            let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Hi", answer: "Done!")
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.first?.route == "sms" && rows.first?.status == "sent", "\(rows)")
            let row = try await h.pool.first("SELECT segments, cost_micros FROM deliveries WHERE chat_id = \(chat) AND route = 'sms'")
            #expect(try row?.decode(Int.self, at: 0) == 1)
            #expect(try row?.decode(Int64.self, at: 1) == 7900)
        }
    }
}
