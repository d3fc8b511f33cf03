import Fakes
import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport

/// Turned-off routes, missing contact data, no money, failing providers: recorded with a reason;
/// one route failing never blocks the other.
@Suite("Exclusions and failures") struct ExclusionTests {
    @Test("toggles off: both routes excluded with the reason, nothing sent")
    func togglesOff() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            var options = FollowUpHarness.ChannelOptions()
            options.phone = false
            options.email = false
            let chat = try await h.offlineChat(options).chat
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows == [.init(route: "sms", status: "excluded", reason: "text notifications are turned off for this channel"),
                             .init(route: "email", status: "excluded", reason: "email notifications are turned off for this channel")])
            #expect(try await h.followUps(chat: chat).first?.status == "cancelled")
            #expect(h.twilio.messages.isEmpty && h.smtp.messages.isEmpty)
            // Nothing could be sent: the answers are not followed up again and again.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await h.followUps(chat: chat).count == 1)
        }
    }

    @Test("a customer without phone or email: excluded with the reason; the poller keeps going")
    func missingContactData() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            let bare = try await h.offlineChat(phone: nil, email: nil).chat
            let rows = try await h.settled(chat: bare, count: 2)
            #expect(rows == [.init(route: "sms", status: "excluded", reason: "customer has no phone number"),
                             .init(route: "email", status: "excluded", reason: "customer has no email address")])
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await h.followUps(chat: bare).count == 1, "nothing could be sent: not followed up again and again")
            // Only an email address: the email still goes.
            let emailOnly = try await h.offlineChat(phone: nil).chat
            let emailRows = try await h.settled(chat: emailOnly, count: 2)
            #expect(emailRows.first { $0.route == "email" }?.status == "sent", "\(emailRows)")
        }
    }

    @Test("an empty SMS wallet fails the text ('insufficient SMS balance'); the email still goes")
    func insufficientBalance() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            var options = FollowUpHarness.ChannelOptions()
            options.credit = 0
            let chat = try await h.offlineChat(options).chat
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.contains(.init(route: "sms", status: "failed", reason: "insufficient SMS balance")), "\(rows)")
            #expect(rows.contains(.init(route: "email", status: "sent", reason: nil)), "\(rows)")
            #expect(h.twilio.messages.isEmpty)
        }
    }

    @Test("provider 5xx is retried until it goes through, charged once")
    func serverErrorsRetried() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            h.twilio.setFailure(.serverError(status: 503, times: 2), for: "+821012345678")
            let chat = try await h.offlineChat().chat
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.allSatisfy { $0.status == "sent" }, "\(rows)")
            let row = try await h.pool.first("SELECT attempts, cost_micros FROM deliveries WHERE chat_id = \(chat) AND route = 'sms'")
            #expect(try row?.decode(Int.self, at: 0) == 3)
            #expect(try row?.decode(Int64.self, at: 1) == 15000)
            #expect(h.twilio.messages.count == 1)
            let channel = try await h.pool.scalar("SELECT channel_id FROM chats WHERE id = \(chat)", as: Int64.self)
            let balance = try await h.pool.first("SELECT paid + promotional, held FROM wallet.balance(\(channel))")
            #expect(try balance?.decode(Int64.self, at: 0) == 5_000_000 - 15000)
            #expect(try balance?.decode(Int64.self, at: 1) == 0)
        }
    }

    @Test("a 4xx (invalid number) is final: failed at once, not retried, money released")
    func invalidNumberIsFinal() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            h.twilio.setFailure(.invalidNumber, for: "+821012345678")
            let chat = try await h.offlineChat().chat
            let rows = try await h.settled(chat: chat, count: 2)
            let sms = try #require(rows.first { $0.route == "sms" })
            #expect(sms.status == "failed")
            #expect(sms.reason?.hasPrefix("invalid recipient") == true, "\(sms)")
            #expect(try await h.pool.scalar("SELECT attempts FROM deliveries WHERE chat_id = \(chat) AND route = 'sms'", as: Int.self) == 1)
            let channel = try await h.pool.scalar("SELECT channel_id FROM chats WHERE id = \(chat)", as: Int64.self)
            #expect(try await h.pool.scalar("SELECT paid + promotional FROM wallet.balance(\(channel))", as: Int64.self) == 5_000_000)
            #expect(rows.first { $0.route == "email" }?.status == "sent")
        }
    }

    @Test("a provider timeout (the answer never heard) is looked up, not resent: one text")
    func timeoutIsLookedUp() async throws {
        try await withFollowUpHarness(providerTimeoutSeconds: 0.4) { h in
            h.startWorker()
            h.twilio.latency = .milliseconds(900)
            let chat = try await h.offlineChat().chat
            // The first send times out on our side, but Twilio accepts it a little later.
            #expect(await eventually { h.twilio.messages.count == 1 })
            h.twilio.latency = .zero
            let rows = try await h.settled(chat: chat, count: 2, timeout: .seconds(10))
            let sms = try #require(rows.first { $0.route == "sms" })
            #expect(sms.status == "delivered", "\(rows)")
            #expect(sms.reason == "confirmed by the provider after an interruption")
            #expect(h.twilio.messages.count == 1)
            #expect(try await h.pool.scalar("SELECT attempts FROM deliveries WHERE chat_id = \(chat) AND route = 'sms'", as: Int.self) == 1)
        }
    }

    @Test("429 with Retry-After is waited out, then sent")
    func rateLimited() async throws {
        try await withFollowUpHarness { h in
            h.startWorker()
            h.twilio.setFailure(.rateLimited(retryAfterSeconds: 1), for: "+821012345678")
            let chat = try await h.offlineChat().chat
            try await Task.sleep(for: .milliseconds(300))
            h.twilio.setFailure(nil, for: "+821012345678")
            let rows = try await h.settled(chat: chat, count: 2, timeout: .seconds(8))
            #expect(rows.allSatisfy { $0.status == "sent" }, "\(rows)")
            #expect(h.twilio.messages.count == 1)
        }
    }
}
