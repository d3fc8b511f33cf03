import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// What is not a follow-up, what makes one, and the customer coming back.
@Suite("Eligibility and presence") struct EligibilityTests {
    @Test("a chat a manager opened that the customer never replied to gets nothing")
    func managerOpenedWithoutReply() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let channel = try await h.channel()
            let customer = try await h.customer(channel: channel)
            let chat = try await h.chat(channel: channel, customer: customer, openedBy: "manager")
            try await h.activity(customer: customer, "left")
            try await h.message(chat: chat, "manager", "Hi, can we help you with anything?")
            #expect(try await h.idle())
            #expect(try await h.followUps(chat: chat).isEmpty)
            #expect(try await h.deliveries(chat: chat).isEmpty)

            // Once the customer replies, the manager's next answer is followed up.
            try await h.message(chat: chat, "customer", "Yes, my invoice is wrong.")
            try await h.message(chat: chat, "manager", "Fixed it for you.")
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.filter { $0.status == "sent" }.count == 2, "\(rows)")
        }
    }

    @Test("marketing messages are never followed up")
    func marketing() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let channel = try await h.channel()
            let customer = try await h.customer(channel: channel)
            let chat = try await h.chat(channel: channel, customer: customer, openedBy: "manager", kind: "marketing")
            try await h.activity(customer: customer, "left")
            try await h.message(chat: chat, "customer", "Stop")
            try await h.message(chat: chat, "bot", "Spring sale: 20% off!")
            #expect(try await h.idle())
            #expect(try await h.pool.scalar("SELECT count(*)::int FROM jobs WHERE kind = 'followup.offline_check'", as: Int.self) == 0)
            #expect(try await h.followUps(chat: chat).isEmpty)
        }
    }

    @Test("several answers while the customer is away make one notification")
    func severalAnswersOneNotification() async throws {
        var settings = FollowUpSettings.fast()
        settings.gatherDelay = .seconds(2)  // the three answers land within it even on a loaded machine
        try await withFollowUpHarness(settings: settings) { h in
            h.startWorker()
            let (_, _, chat) = try await h.offlineChat(asks: "Three questions: a, b, c?", answer: "a: yes")
            try await h.message(chat: chat, "bot", "b: no")
            try await h.message(chat: chat, "manager", "c: maybe")
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.count == 2, "\(rows)")
            #expect(h.twilio.messages.count == 1)
            let body = h.twilio.messages.first?.body ?? ""
            #expect(body.contains("a: yes") && body.contains("b: no") && body.contains("c: maybe"), "\(body)")
            #expect(try await h.followUps(chat: chat).map(\.count) == [3])
        }
    }

    @Test("a customer who read the chat (chat_reads) gets nothing")
    func readChat() async throws {
        var settings = FollowUpSettings.fast()
        settings.gatherDelay = .seconds(3)  // room for a loaded machine to insert the read first
        try await withFollowUpHarness(settings: settings) { h in
            h.startWorker()
            let (_, _, chat) = try await h.offlineChat(asks: "Question")
            #expect(try await eventually { try await h.followUps(chat: chat).first?.status == "pending" })
            try await h.pool.execute("INSERT INTO chat_reads (chat_id) VALUES (\(chat))")
            #expect(try await eventually { try await h.followUps(chat: chat).first?.status == "cancelled" })
            #expect(try await h.idle())
            #expect(try await h.deliveries(chat: chat).isEmpty)
            #expect(try await h.followUps(chat: chat).first?.reason == "customer read the chat before it was sent")
        }
    }

    @Test("the customer coming back before the send cancels it; leaving again brings it back")
    func comingBackCancels() async throws {
        var settings = FollowUpSettings.fast()
        // Long enough that a loaded machine still gets the page view in before the plan runs.
        settings.gatherDelay = .seconds(3)
        try await withFollowUpHarness(settings: settings) { h in
            h.startWorker()
            let (_, customer, chat) = try await h.offlineChat(asks: "Question")
            #expect(try await eventually { try await h.followUps(chat: chat).first?.status == "pending" })
            try await h.activity(customer: customer, "page_view")
            #expect(try await eventually { try await h.followUps(chat: chat).first?.status == "cancelled" })
            #expect(try await h.followUps(chat: chat).first?.reason == "customer came back before it was sent")
            #expect(try await h.deliveries(chat: chat).isEmpty)

            // They leave again without reading: now it goes out.
            try await h.activity(customer: customer, "left")
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.filter { $0.status == "sent" }.count == 2, "\(rows)")
            #expect(try await h.followUps(chat: chat).map(\.status) == ["cancelled", "notified"])
        }
    }

    @Test("coming back at the last moment, after the plan but before the send, still stops the texts")
    func comingBackAtTheLastMoment() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let channel = try await h.channel(.push(ackTimeout: "1 second"))
            let customer = try await h.customer(channel: channel)
            try await h.device(customer: customer, token: FollowUpHarness.androidToken("last-moment"))
            let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Question", answer: "Answer")
            #expect(await eventually { h.fcm.pushes.count == 1 })
            // The push is out; no receipt; the customer comes back on the website just before the deadline.
            try await h.activity(customer: customer, "heartbeat")
            let rows = try await h.settled(chat: chat, count: 3, timeout: .seconds(6))
            #expect(rows.filter { $0.route != "push" }.allSatisfy { $0.status == "excluded" && $0.reason == "customer came back before it was sent" },
                    "\(rows)")
            #expect(h.twilio.messages.isEmpty)
            #expect(h.smtp.messages.isEmpty)
        }
    }
}

extension FollowUpHarness {
    /// A well-formed FCM registration token.
    static func androidToken(_ seed: String) -> String {
        "fcm-\(seed)-" + String(repeating: "A1b2C3d4", count: 20)
    }
}
