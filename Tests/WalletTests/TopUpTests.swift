import Fakes
import Foundation
import Outbound
import Postgres
import Providers
import Testing
import TestSupport
@testable import Wallet

/// Fails the first `count` charges as a timeout without calling the provider (the request never
/// left: "timeout before the provider charged").
final class TimeoutBeforeSending: PaymentProvider, Sendable {
    let inner: PaymentProvider
    let left: LockedValue<Int>
    init(_ inner: PaymentProvider, count: Int) {
        self.inner = inner
        left = LockedValue(count)
    }
    func charge(_ request: PaymentRequest) async throws -> PaymentOutcome {
        let fail = left.withLock { value -> Bool in
            defer { value = max(0, value - 1) }
            return value > 0
        }
        if fail { throw ProviderError(.retryable(after: nil), .timeout) }
        return try await inner.charge(request)
    }
    func lookup(idempotencyKey: String) async throws -> PaymentOutcome? {
        try await inner.lookup(idempotencyKey: idempotencyKey)
    }
}


@Suite("Auto-charge top-ups against a Stripe-style fake")
struct TopUpTests {
    struct Setup {
        let db: TestDatabase
        let channel: Int64
        let fake: FakeStripe
        let stripe: StripePayments
    }

    /// A channel with auto-charge on and an empty wallet; one text fails for lack of funds,
    /// which requests a $20 top-up.
    func setup(timeout: Duration = .seconds(2)) async throws -> Setup {
        let db = try await TestDatabase.fresh()
        // Free plan: auto-charge works on any plan, and no monthly credit pays the texts here.
        let channel = try await Fixtures.channel(db.pool, plan: "free")
        try await AutoCharge.set(channelID: channel, AutoChargeRule(enabled: true, thresholdMicros: 1_000_000, amountMicros: 20_000_000,
                                                                    monthlyCapMicros: 100_000_000, paymentCustomer: "cus_acme"), on: db.pool)
        let fake = try FakeStripe()
        let stripe = StripePayments(endpoint: ProviderEndpoint(client: OutboundClient(), baseURL: fake.baseURL, timeout: timeout),
                                    secretKey: fake.secretKey)
        #expect(try await Fixtures.chargeText(db.pool, channel: channel, price: 7_900) == false)
        #expect(try await db.pool.scalar("SELECT count(*)::int FROM wallet.top_ups WHERE state = 'pending'", as: Int.self) == 1)
        return Setup(db: db, channel: channel, fake: fake, stripe: stripe)
    }

    func runUntilSettled(_ s: Setup, payments: PaymentProvider?, while body: () async throws -> Void = {}) async throws -> String {
        let worker = WalletWorker(pool: s.db.pool, payments: payments)
        try await body()
        let settled = try await eventually(timeout: .seconds(20)) {
            try await unfinishedJobs(s.db.pool, kind: TopUpJob.Payload.kind) == 0
        }
        try await worker.stop()
        #expect(settled, "the top-up job did not finish")
        return try await s.db.pool.scalar("SELECT state FROM wallet.top_ups", as: String.self)
    }

    /// Money taken at the provider = money credited to the wallet, once.
    func expectCreditedOnce(_ s: Setup) async throws {
        #expect(s.fake.chargesCreated == 1)
        #expect(try await Fixtures.transfers(s.db.pool, kind: .topUp) == 1)
        #expect(try await Wallet.balance(channelID: s.channel, on: s.db.pool).paidMicros == 20_000_000)
        let intent = try #require(s.fake.intents.first { $0.status == "succeeded" })
        #expect(intent.amount == 2_000 && intent.currency == "usd" && intent.customer == "cus_acme")
        let attempt = try await s.db.pool.scalar("SELECT id::text FROM wallet.top_up_attempts WHERE state = 'succeeded'", as: String.self)
        #expect(intent.idempotencyKey == attempt && intent.attempt == attempt)
        try await Fixtures.expectSound(s.db.pool)
        // Auto-charge is back to normal: the next text goes through.
        #expect(try await Fixtures.chargeText(s.db.pool, channel: s.channel, price: 7_900))
    }

    @Test("a top-up charges the card once and credits the wallet in the job's completing transaction")
    func succeeds() async throws {
        let s = try await setup()
        #expect(try await runUntilSettled(s, payments: s.stripe) == "succeeded")
        try await expectCreditedOnce(s)
        #expect(s.fake.createRequests == 1)
        await s.db.pool.close()
    }

    @Test("5xx before the provider charged: retried with the same key, charged once")
    func serverErrorBeforeCharging() async throws {
        let s = try await setup()
        s.fake.failNext(2)
        #expect(try await runUntilSettled(s, payments: s.stripe) == "succeeded")
        try await expectCreditedOnce(s)
        #expect(s.fake.createRequests == 3)
        #expect(try await s.db.pool.scalar("SELECT count(*)::int FROM wallet.top_up_attempts", as: Int.self) == 1)
    }

    @Test("429 from the payment provider: its Retry-After is honoured before the next try")
    func rateLimitedHonoursRetryAfter() async throws {
        let s = try await setup()
        s.fake.server.injectFault(.status(429, retryAfter: "2"), times: 1, method: "POST", path: "/v1/payment_intents")
        let started = ContinuousClock.now
        #expect(try await runUntilSettled(s, payments: s.stripe) == "succeeded")
        #expect(ContinuousClock.now - started >= .seconds(2), "retried before the Retry-After")
        try await expectCreditedOnce(s)
    }

    @Test("5xx after the provider charged (answer lost): reconciled by lookup, credited once, not charged again")
    func chargedButAnswerLost() async throws {
        let s = try await setup()
        s.fake.chargeButDropResponse(next: 1)
        #expect(try await runUntilSettled(s, payments: s.stripe) == "succeeded")
        try await expectCreditedOnce(s)
        #expect(s.fake.createRequests == 1)
    }

    @Test("timeout before the provider charged: the same key again, charged once")
    func timeoutBeforeCharging() async throws {
        let s = try await setup()
        #expect(try await runUntilSettled(s, payments: TimeoutBeforeSending(s.stripe, count: 2)) == "succeeded")
        try await expectCreditedOnce(s)
        #expect(s.fake.createRequests == 1)
    }

    @Test("timeout while the provider was charging: never double-charged, never lost")
    func timeoutAfterCharging() async throws {
        let s = try await setup(timeout: .milliseconds(300))
        s.fake.latency = .milliseconds(900)
        let state = try await runUntilSettled(s, payments: s.stripe) {
            // The first call times out on our side while the fake is still "processing" it.
            _ = await eventually(timeout: .seconds(10)) { s.fake.server.requests.count >= 1 }
            try await Task.sleep(for: .milliseconds(400))
            s.fake.latency = .zero
        }
        #expect(state == "succeeded")
        _ = await eventually(timeout: .seconds(3)) { s.fake.createRequests >= 1 && s.fake.server.requests.count >= 2 }
        try await Task.sleep(for: .milliseconds(700))  // let the slow first request land, too
        try await expectCreditedOnce(s)
    }

    @Test("a decline is recorded with its reason, credits nothing, and backs off further top-ups")
    func declined() async throws {
        let s = try await setup()
        s.fake.decline(customer: "cus_acme", code: "insufficient_funds")
        #expect(try await runUntilSettled(s, payments: s.stripe) == "declined")
        #expect(s.fake.chargesCreated == 0)
        #expect(try await Fixtures.transfers(s.db.pool, kind: .topUp) == 0)
        let row = try #require(try await s.db.pool.first("""
            SELECT u.failure, a.state, a.provider_payment_id IS NOT NULL, r.consecutive_declines, r.retry_after > now()
            FROM wallet.top_ups u JOIN wallet.top_up_attempts a ON a.top_up_id = u.id JOIN wallet.auto_charge r ON r.channel_id = u.channel_id
            """))
        #expect(try row.decode(String.self, at: 0) == "insufficient_funds")
        #expect(try row.decode(String.self, at: 1) == "declined")
        #expect(try row.decode(Bool.self, at: 2))
        #expect(try row.decode(Int.self, at: 3) == 1)
        #expect(try row.decode(Bool.self, at: 4))
        // The next text fails too, without hammering the card.
        #expect(try await Fixtures.chargeText(s.db.pool, channel: s.channel, price: 7_900) == false)
        #expect(try await s.db.pool.scalar("SELECT count(*)::int FROM wallet.top_ups", as: Int.self) == 1)
        let shown = try await WalletConsole.autoCharge(channelID: s.channel, on: s.db.pool)
        #expect(shown.contains("declines in a row             1") && shown.contains("insufficient_funds"))
        try await Fixtures.expectSound(s.db.pool)
    }

    @Test("without a payment provider a top-up fails with a reason instead of hanging in flight")
    func noProvider() async throws {
        let s = try await setup()
        #expect(try await runUntilSettled(s, payments: nil) == "failed")
        #expect(try await s.db.pool.scalar("SELECT failure FROM wallet.top_ups", as: String.self) == "no payment provider is configured")
    }
}
