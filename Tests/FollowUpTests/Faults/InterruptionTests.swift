import Fakes
import Jobs
import Foundation
@testable import FollowUp
import Postgres
import Server
import Testing
import TestSupport
import Wallet

/// An attempt whose answer never arrives — the poller crashed, the provider hung, the answer was
/// garbage — is reconciled by one rule per provider (docs/providers.md): texts are looked up
/// (with a grace, since listings lag) before anything is resent; email and push are resent with
/// the same Message-ID / collapse id; `unknown` only when the provider cannot be asked in time.
@Suite("Interrupted sends") struct InterruptionTests {
    @Test("a crash between `sending` and the provider's answer: texts once, email and push resent with the same id",
          arguments: FaultRoute.allCases)
    func crashAfterTheCall(route: FaultRoute) async throws {
        try await withFollowUpHarness { h in
            let called = LockedValue(false)
            // Poller A marks the delivery sending, holds the money, calls the provider — and dies.
            h.startDyingPoller { runner, payload, context in
                if case .proceed(let delivery, let followUp) = try await runner.prepare(payload.deliveryID, context) {
                    _ = try? await runner.call(delivery, followUp)
                    called.withLock { $0 = true }
                }
            }
            let (channel, chat) = try await h.offlineChat(for: route)
            #expect(await eventually { called.withLock { $0 } })
            h.startWorker()  // poller B rescues the job once A's lease ran out
            let row = try await h.requireFinished(chat: chat, route: route)
            switch route {
            case .sms, .lms:
                #expect(row.status == "delivered" && row.reason == "confirmed by the provider after an interruption", "\(row)")
                #expect(h.twilio.messages.count == 1)
            case .messenger:
                #expect(["sent", "delivered"].contains(row.status), "\(row)")
                #expect(h.kakao.delivered(to: FollowUpHarness.faultPhone).count == 1)
                #expect(h.twilio.messages.isEmpty, "no SMS fallback for a messenger text that went out")
            case .email:
                #expect(row.status == "sent", "an interrupted email is resent, never dropped: \(row)")
                let ids = h.smtp.messages.compactMap { $0.parsed.header("Message-ID") }
                #expect(ids.count == 2 && Set(ids).count == 1, "resent with the same Message-ID: \(ids)")
            case .push:
                #expect(row.status == "sent", "an interrupted push is resent, never dropped: \(row)")
                let keys = h.fcm.pushes.map(\.collapseKey)
                #expect(keys.count == 2 && Set(keys).count == 1, "resent with the same collapse key: \(keys)")
            }
            try await h.expectSettled(channel)
        }
    }

    @Test("the provider unreachable through the whole reconciliation window: unknown, hold released, job not dead")
    func unreachableThroughReconciliation() async throws {
        ProcessMetrics.bootstrap()
        func unknownCount() throws -> Double {
            try PrometheusParser.parse(ProcessMetrics.registry.emitToString()).value("delivery_outcome_unknown_total", ["route": "sms"]) ?? 0
        }
        let unknownBefore = try unknownCount()
        var settings = FollowUpSettings.fast()
        settings.lookupWindow = .seconds(2)
        try await withFollowUpHarness(settings: settings, providerTimeoutSeconds: 0.5) { h in
            let called = LockedValue(false)
            h.startDyingPoller { runner, payload, context in
                if case .proceed(let delivery, let followUp) = try await runner.prepare(payload.deliveryID, context) {
                    _ = try? await runner.call(delivery, followUp)
                    called.withLock { $0 = true }
                    h.twilio.server.injectFault(.unreachable)  // from now on, nobody answers
                }
            }
            let (channel, chat) = try await h.offlineChat(for: .sms)
            #expect(await eventually { called.withLock { $0 } })
            #expect(try await h.held(channel) == 15000)
            h.startWorker()
            let row = try await h.requireFinished(chat: chat, route: .sms, timeout: .seconds(30))
            #expect(row.status == "unknown", "\(row)")
            #expect(try unknownCount() >= unknownBefore + 1, "the counter to alert on (docs/operations.md) moved")
            #expect(row.reason?.contains("could not be asked") == true, "\(row)")
            #expect(h.twilio.messages.count == 1, "never resent while the provider cannot be asked")
            let report = try await h.pool.first("SELECT status, why FROM delivery_report WHERE chat_id = \(chat) AND route = 'sms'")
            #expect(try report?.decode(String.self, at: 0) == "unknown")
            #expect(try report?.decode(String.self, at: 1).contains("could not be asked") == true)
            try await h.expectSettled(channel)
            #expect(try await h.pool.scalar("SELECT paid + promotional FROM wallet.balance(\(channel))", as: Int64.self) == 5_000_000,
                    "unknown releases the hold")
            #expect(try await h.followUps(chat: chat).first?.status != "cancelled")
        }
    }

    @Test("a timeout against a provider whose listing lags: looked up through the grace, never sent twice")
    func listingLag() async throws {
        var settings = FollowUpSettings.fast()
        settings.lookupGrace = .seconds(2)
        try await withFollowUpHarness(settings: settings, providerTimeoutSeconds: 0.4) { h in
            h.twilio.listingLag = .milliseconds(1200)
            // Twilio takes the message, then hangs past our timeout; it lists it only 1.2 s later.
            h.twilio.server.injectFault(.hangAfterHandling(.seconds(1)), times: 1, method: "POST")
            h.startWorker()
            let (channel, chat) = try await h.offlineChat(for: .sms)
            let row = try await h.requireFinished(chat: chat, route: .sms)
            #expect(row.status == "delivered", "\(row)")
            #expect(h.twilio.messages.count == 1, "sent again before the listing caught up")
            #expect(h.twilio.server.requests.filter { $0.method == "POST" }.count == 1)
            try await h.expectSettled(channel)
        }
    }

    @Test("a 2xx with an unreadable body is an unknown outcome, reconciled — never a failure or a fallback",
          arguments: [FaultRoute.sms, .messenger, .push])
    func garbageSuccess(route: FaultRoute) async throws {
        try await withFollowUpHarness { h in
            let server = switch route {
            case .messenger: h.kakao.server
            case .push: h.fcm.server
            default: h.twilio.server
            }
            server.injectFault(.garbageSuccess, times: 1, method: "POST", path: route == .push ? "/v1/" : nil)
            h.startWorker()
            let (channel, chat) = try await h.offlineChat(for: route)
            let row = try await h.requireFinished(chat: chat, route: route)
            switch route {
            case .messenger:
                #expect(["sent", "delivered"].contains(row.status), "\(row)")
                #expect(h.kakao.delivered(to: FollowUpHarness.faultPhone).count == 1)
                #expect(h.twilio.messages.isEmpty, "a messenger text the gateway took must not be followed by an SMS")
            case .push:
                #expect(row.status == "sent", "\(row)")
                #expect(Set(h.fcm.pushes.map(\.collapseKey)).count == 1)
                #expect(h.smtp.messages.isEmpty, "a push the provider took does not fall back to text and email")
            default:
                #expect(row.status == "delivered", "\(row)")
                #expect(h.twilio.messages.count == 1)
            }
            let cost = try await h.pool.scalar("SELECT cost_micros FROM deliveries WHERE chat_id = \(chat) AND route = \(route.rawValue)", as: Int64.self)
            #expect(cost == (route == .push ? 0 : route == .messenger ? 6000 : 15000), "charged once, for what went out")
            try await h.expectSettled(channel)
        }
    }
}
