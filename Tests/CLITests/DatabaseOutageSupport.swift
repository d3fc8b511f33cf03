import Postgres
import Testing

/// What the chaos and failover tests share: writing through a database that goes away, and the
/// money check once every follow-up settled.

/// Runs `body` until it succeeds (the database may be restarting or failing over), at most for `timeout`.
func retryingThroughOutage<T>(_ timeout: Duration = .seconds(30), _ body: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            return try await body()
        } catch let error as PostgresError where error.isConnectionError && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// No hold left open on any of `channels`, the ledger's integrity checks empty, and no delivery
/// failed or unknown (`statuses`: the deliveries' statuses, for the message).
func expectMoneySettled(_ pool: ConnectionPool, channels: [Int64], statuses: String) async throws {
    for channel in channels {
        #expect(try await pool.scalar("SELECT held FROM wallet.balance(\(channel))", as: Int64.self) == 0, "a hold left open on channel \(channel)")
    }
    let problems = try await pool.query("SELECT check_name, subject FROM finance.integrity_checks")
        .map { "\(try $0.decode(String.self, at: 0)): \(try $0.decode(String.self, at: 1))" }
    #expect(problems.isEmpty, "ledger integrity: \(problems)")
    let unsettled = try await pool.scalar("SELECT count(*)::int FROM deliveries WHERE status IN ('failed', 'unknown')", as: Int.self)
    #expect(unsettled == 0, "\(statuses)")
}
