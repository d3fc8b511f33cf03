import Foundation
import Postgres
import Wallet

/// `followup bench wallet`: how fast the ledger charges texts, beside a bare INSERT in the same
/// run (absolute numbers on shared machines are noisy; the ratio is the figure to read).
///
/// A charge is what a text costs the ledger: a hold in one transaction and its capture in the
/// next, with every check on (balanced transfers at commit, floors, the append-only triggers,
/// the wallet locked in a fixed order). Run it against a scratch database: it creates channels
/// and ledger history that, by design, cannot be deleted.
enum WalletBenchmark {
    struct Settings: Sendable {
        /// Charges per scenario.
        var charges = 5_000
        /// Wallets in the spread-out scenario.
        var wallets = 1_000
        /// Concurrent connections charging.
        var concurrency = 8
        init(charges: Int = 5_000, wallets: Int = 1_000, concurrency: Int = 8) {
            self.charges = charges
            self.wallets = wallets
            self.concurrency = concurrency
        }
    }

    /// Runs the three scenarios on `pool` (give it at least `concurrency` connections) and
    /// returns a report whose last line is one JSON object.
    static func run(pool: ConnectionPool, settings: Settings = Settings()) async throws -> String {
        let charges = max(1, settings.charges), concurrency = max(1, settings.concurrency), walletCount = max(1, settings.wallets)
        // The wallets: one hot, and `walletCount` to spread over, each funded for every charge it could get.
        let price: Int64 = 7_900
        let channels = try await pool.query("""
            INSERT INTO public.channels (name, plan) SELECT 'bench wallet ' || n, 'paid' FROM generate_series(0, \(walletCount)) n RETURNING id
            """).map { try $0.decode(Int64.self, at: 0) }
        try await pool.execute("""
            SELECT wallet.credit(c, \(price * Int64(charges) + 1_000_000), 'paid', 'benchmark float', 'bench')
            FROM unnest(\(channels)::bigint[]) c
            """)
        let hot = channels[0]
        let spread = Array(channels.dropFirst())
        // Deliveries for every charge, written before timing (the product writes them anyway).
        let deliveries = try await pool.query("""
            INSERT INTO public.deliveries (channel_id, route, status, price_micros, country, segments)
            SELECT CASE WHEN n <= \(charges) THEN \(hot) ELSE (\(spread)::bigint[])[1 + n % \(spread.count)] END,
                   'sms', 'sending', \(price), 'US', 1
            FROM generate_series(1, \(2 * charges)) n ORDER BY n RETURNING id, channel_id
            """).map { (try $0.decode(Int64.self, at: 0), try $0.decode(Int64.self, at: 1)) }
        try await pool.execute("CREATE TABLE IF NOT EXISTS wallet_bench_bare (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, channel_id bigint NOT NULL, amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")

        let bare = try await measure(count: charges, concurrency: concurrency) { index in
            try await pool.execute("INSERT INTO wallet_bench_bare (channel_id, amount) VALUES (\(spread[index % spread.count]), \(price))")
        }
        let hotRate = try await measure(count: charges, concurrency: concurrency) { index in
            try await charge(deliveries[index], price: price, pool: pool)
        }
        let spreadRate = try await measure(count: charges, concurrency: concurrency) { index in
            try await charge(deliveries[charges + index], price: price, pool: pool)
        }
        try await pool.execute("UPDATE public.deliveries SET status = 'sent' WHERE id = ANY(\(deliveries.map(\.0))::bigint[])")
        try await pool.execute("DROP TABLE wallet_bench_bare")
        let problems = try await Wallet.integrityProblems(on: pool)
        let hotBalance = try await Wallet.balance(channelID: hot, on: pool)
        let hotExpected = 1_000_000 + price * Int64(charges) - price * Int64(charges)
        let consistent = problems.isEmpty && hotBalance.availableMicros == hotExpected && hotBalance.heldMicros == 0

        func line(_ name: String, _ rate: Double) -> String {
            "  \(name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(String(format: "%9.0f", rate)) /s   (\(String(format: "%.2f", rate / bare)) × bare INSERT)"
        }
        return """
            wallet benchmark: \(charges) operations per scenario, \(concurrency) connections, \(spread.count) wallets spread
              \("bare INSERT (one row per transaction)".padding(toLength: 44, withPad: " ", startingAt: 0)) \(String(format: "%9.0f", bare)) /s
            \(line("charges on one hot wallet (hold + capture)", hotRate))
            \(line("charges across \(spread.count) wallets (hold + capture)", spreadRate))
              ledger checks after the run: \(consistent ? "pass (integrity views empty, balances exact)" : "FAIL: \(problems.prefix(3)) hot wallet \(hotBalance)")
            {"benchmark":"wallet","operations":\(charges),"connections":\(concurrency),"wallets":\(spread.count),"bare_insert_per_s":\(String(format: "%.1f", bare)),"hot_wallet_charges_per_s":\(String(format: "%.1f", hotRate)),"spread_charges_per_s":\(String(format: "%.1f", spreadRate)),"ledger_consistent":\(consistent)}
            """
    }

    /// One text's charge: hold, then capture, each in its own transaction.
    static func charge(_ delivery: (id: Int64, channel: Int64), price: Int64, pool: ConnectionPool) async throws {
        try await pool.withTransaction { tx in
            try await Wallet.hold(channelID: delivery.channel, deliveryID: delivery.id, amountMicros: price, route: "sms", on: tx)
        }
        try await pool.withTransaction { tx in
            try await Wallet.capture(deliveryID: delivery.id, on: tx)
        }
    }

    /// Runs `operation(0..<count)` over `concurrency` tasks; returns operations per second.
    static func measure(count: Int, concurrency: Int, _ operation: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
        let next = Counter()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while let index = await next.take(below: count) { try await operation(index) }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = (ContinuousClock.now - start).seconds
        return Double(count) / max(elapsed, 1e-9)
    }


    actor Counter {
        private var value = 0
        func take(below limit: Int) -> Int? {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
