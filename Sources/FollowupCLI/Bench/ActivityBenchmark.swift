import Foundation
import Postgres

/// `followup bench activity`: the hottest write path against a bare insert, same run.
enum ActivityBenchmark {
    struct ActivityResult: Sendable {
        var tool: String
        var clients: Int
        var seconds: Int
        var activityRowsPerSecond: Double
        var bareRowsPerSecond: Double
        var ratio: Double { activityRowsPerSecond / max(bareRowsPerSecond, 0.000_001) }

        var json: String {
            String(format: #"{"benchmark":"activity","tool":"%@","clients":%d,"seconds_per_run":%d,"activity_rows_per_second":%.0f,"bare_rows_per_second":%.0f,"ratio":%.3f}"#,
                   tool, clients, seconds, activityRowsPerSecond, bareRowsPerSecond, ratio)
        }
    }

    /// `INSERT INTO public.activity (customer_id, kind)` rows/s against a bare table of the same columns
    /// (no constraint, index or trigger), alternating runs in the same database. Uses pgbench
    /// (single-row inserts, `clients` connections, `transactionsPerClient` each) when `pgbench`
    /// is found; otherwise Swift clients for `seconds`.
    ///
    /// pgbench runs a fixed number of transactions (`-t`), not a duration: `-T` relies on SIGALRM,
    /// which a child of this process inherits blocked.
    static func activity(databaseURL: String, pool: ConnectionPool, clients: Int, seconds: Int,
                                transactionsPerClient: Int = 20_000, rounds: Int = 2,
                                customers: Int = 100_000) async throws -> ActivityResult {
        try await pool.execute("DROP TABLE IF EXISTS activity_bare")
        try await pool.execute("CREATE TABLE activity_bare (customer_id bigint, kind text, at timestamptz DEFAULT now())")
        defer { Task { try? await pool.execute("DROP TABLE IF EXISTS activity_bare") } }
        // A browsing session's mix: mostly heartbeats, some page views and tab switches, one leave.
        let mix = Array(repeating: "heartbeat", count: 45) + ["page_view", "page_view", "tab_hidden", "tab_visible", "left"]
        let kinds = "(ARRAY[" + mix.map { "'\($0)'" }.joined(separator: ",") + "])[1 + floor(random() * \(mix.count))::int]"
        var activity: [Double] = []
        var bare: [Double] = []
        let pgbench = Pgbench.find()
        for _ in 0..<rounds {
            for table in ["activity_bare", "activity"] {
                let sql = "INSERT INTO \(table) (customer_id, kind) VALUES (1 + (random() * \(customers - 1))::bigint, \(kinds));"
                let rate: Double
                if let pgbench {
                    rate = try Pgbench.run(pgbench, url: databaseURL, sql: sql, clients: clients, transactions: transactionsPerClient)
                } else {
                    rate = try await Pgbench.runSwiftClients(pool: pool, sql: sql, clients: clients, seconds: seconds)
                }
                if table == "activity" { activity.append(rate) } else { bare.append(rate) }
            }
        }
        return ActivityResult(tool: pgbench == nil ? "swift" : "pgbench", clients: clients, seconds: seconds,
                              activityRowsPerSecond: activity.reduce(0, +) / Double(activity.count),
                              bareRowsPerSecond: bare.reduce(0, +) / Double(bare.count))
    }
}
