import Foundation
import Postgres
import Testing
import TestSupport
import Wallet

/// The pollers behind a transaction-mode PgBouncer, in the client's pooler mode
/// (`--no-prepared-statements`; docs/postgres-client.md): no LISTEN, the safety poll wakes them.
@Suite("Behind PgBouncer") struct PgBouncerFlowTests {
    @Test("two pollers through PgBouncer follow up every chat by text and email, once each")
    func followUps() async throws {
        try await withFollowUpHarness(throughPgBouncer: true) { h in
            #expect(!h.poller.supportsListen)
            h.startWorker()
            h.startWorker()
            let channel = try await h.channel()
            for n in 0..<5 {
                let customer = try await h.customer(channel: channel, phone: "+8210000001\(String(format: "%02d", n))",
                                                    email: "b\(n)@example.com")
                let chat = try await h.offlineChat(channel: channel, customer: customer, asks: "Question \(n)", answer: "Answer \(n)")
            }
            #expect(try await eventually(timeout: .seconds(30)) {
                try await h.pool.scalar("SELECT count(*)::int FROM deliveries WHERE status = 'sent'", as: Int.self) == 10
            })
            #expect(try await h.idle())
            #expect(h.twilio.messages.count == 5)
            #expect(h.smtp.messages.count == 5)
            #expect(try await Wallet.integrityProblems(on: h.pool).isEmpty)
        }
    }
}
