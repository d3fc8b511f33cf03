import Fakes
import Jobs
import Foundation
@testable import FollowUp
import Postgres
import Testing
import TestSupport
import Wallet

/// Retryable provider failures: 429s honour `Retry-After` up to a cap, and the retry schedule
/// outlasts a real outage (30 minutes by default; shortened here through the settings).
@Suite("Retries") struct RetryTests {
    @Test("messenger 429 is waited out and retried, not rejected: no SMS follows")
    func messengerRateLimited() async throws {
        var settings = FollowUpSettings.fast()
        settings.retryWindow = .seconds(15)
        try await withFollowUpHarness(settings: settings) { h in
            h.kakao.setBehaviour(.rateLimited(retryAfter: "1", times: 3), for: FollowUpHarness.faultPhone)
            h.startWorker()
            let started = ContinuousClock.now
            let (channel, chat) = try await h.offlineChat(for: .messenger)
            let row = try await h.requireFinished(chat: chat, route: .messenger)
            #expect(row.status == "sent", "\(row)")
            #expect(ContinuousClock.now - started >= .seconds(3), "Retry-After: 1 was honoured three times")
            #expect(h.kakao.delivered(to: FollowUpHarness.faultPhone).count == 1)
            #expect(h.twilio.messages.isEmpty, "a rate-limited messenger text must not become an SMS")
            #expect(try await h.deliveries(chat: chat).filter { ["sms", "lms"].contains($0.route) }.isEmpty)
            try await h.expectSettled(channel)
        }
    }

    @Test("429 without Retry-After, many times over: backed off, and rate limits use up no attempts")
    func rateLimitedWithoutRetryAfter() async throws {
        var settings = FollowUpSettings.fast()
        settings.deliveryAttempts = 3
        settings.retryWindow = .seconds(15)
        try await withFollowUpHarness(settings: settings) { h in
            h.twilio.server.injectFault(.status(429), times: 6, method: "POST")
            h.startWorker()
            let (channel, chat) = try await h.offlineChat(for: .sms)
            let row = try await h.requireFinished(chat: chat, route: .sms)
            #expect(row.status == "sent", "\(row)")
            #expect(h.twilio.messages.count == 1)
            #expect(h.twilio.server.requests.filter { $0.method == "POST" }.count == 7)
            try await h.expectSettled(channel)
        }
    }

    @Test("a huge Retry-After (seconds or an HTTP date) is capped: the delivery is not parked with its money held",
          arguments: ["99999999", "Fri, 01 Jan 2100 00:00:00 GMT"])
    func hugeRetryAfter(value: String) async throws {
        var settings = FollowUpSettings.fast()
        settings.retryAfterCap = .seconds(1)
        try await withFollowUpHarness(settings: settings) { h in
            h.twilio.server.injectFault(.status(429, retryAfter: value), times: 1, method: "POST")
            h.startWorker()
            let (channel, chat) = try await h.offlineChat(for: .sms)
            let row = try await h.requireFinished(chat: chat, route: .sms, timeout: .seconds(30))
            #expect(row.status == "sent", "\(row)")
            #expect(h.twilio.messages.count == 1)
            try await h.expectSettled(channel)
        }
    }

    @Test("the SMTP server down for a while, then back: the email arrives once")
    func smtpDownThenUp() async throws {
        // 30 minutes and a 5-minute outage in production; 15 s and about 3 s here.
        var settings = FollowUpSettings.fast()
        settings.retryWindow = .seconds(15)
        settings.retryBackoff = Backoff(base: .milliseconds(100), maximum: .milliseconds(400))
        try await withFollowUpHarness(settings: settings) { h in
            h.smtp.injectedFault = .down
            h.startWorker()
            let (channel, chat) = try await h.offlineChat(for: .email)
            #expect(try await eventually { try await h.pool.scalar("SELECT coalesce(max(attempts), 0) FROM deliveries WHERE chat_id = \(chat)", as: Int.self) >= 3 })
            try await Task.sleep(for: .seconds(2))
            #expect(h.smtp.messages.isEmpty)
            h.smtp.injectedFault = nil
            let row = try await h.requireFinished(chat: chat, route: .email)
            #expect(row.status == "sent", "\(row)")
            #expect(h.smtp.messages.count == 1)
            try await h.expectSettled(channel)
        }
    }
}
