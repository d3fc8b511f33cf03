import ArgumentParser
import FollowUp
import Foundation
import Postgres

/// `followup bench activity-growth`: does a full `activity` table slow the app's inserts or the
/// offline check? The same measurements on the empty table and with `--rows` rows present
/// (spread over the retention's day partitions, as a week of heartbeats would be), same run.
///
/// Inserts: `INSERT INTO public.activity (customer_id, kind)` by pgbench, beside a bare table of the same columns in the same phase, so a CPU that other work
/// slows between phases shows in both (the `normalised` ratio divides it out). Offline check: the
/// two reads it makes of `activity` (the customer's newest row; "came back since") for random
/// customers, one at a time, p50 and p99. Target: inserts with the rows present within 10% of
/// the empty table, the reads unchanged.
struct ActivityGrowthBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activity-growth",
        abstract: "INSERT INTO public.activity and the offline check's reads: empty table vs --rows rows present, same run.",
        discussion: """
            Loads --rows rows with generate_series straight into the day partitions (customer order, \
            so the index builds sequentially), over the --days days before now. --rows 50000000 is the \
            issue's figure (about 4 GB of table and index; check `df -h`). Uses --database-url if given \
            (it empties `activity` there and leaves the rows: only ever a scratch database), else an \
            embedded cluster with fsync on. Needs pgbench (in Debian's postgresql package).
            """)
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Rows present in the loaded phase (50000000 for the issue's figure).") var rows: Int = 2_000_000
    @Option(help: "Distinct customers the rows belong to.") var customers: Int = 1_000_000
    @Option(help: "Days before now the rows spread over (within the 7-day retention).") var days: Int = 7
    @Option(help: "Concurrent insert clients.") var clients: Int = 8
    @Option(help: "Inserts per client per run (pgbench -t).") var transactions: Int = 20_000
    @Option(help: "Insert runs of each table per phase, alternating.") var rounds: Int = 2
    @Option(help: "Offline-check reads measured per phase.") var checks: Int = 2_000

    func run() async throws {
        guard rows > 0, customers > 0, days >= 1, days <= 7, clients > 0, transactions > 0, rounds > 0, checks > 0 else {
            throw ValidationError("--rows, --customers, --clients, --transactions, --rounds and --checks must be positive; --days 1 to 7")
        }
        let settings = ActivityGrowth.Settings(rows: rows, customers: customers, days: days, clients: clients,
                                               transactions: transactions, rounds: rounds, checks: checks)
        try await BenchDatabase.using(database, connections: clients + 2) { db in
            let url = db.cluster?.tcpURL(database: "postgres") ?? db.configuration.connectionString
            let result = try await ActivityGrowth.run(settings, url: url, pool: db.pool)
            print(result.summary)
            print(result.json)
        }
    }
}

enum ActivityGrowth {
    struct Settings {
        var rows, customers, days, clients, transactions, rounds, checks: Int
    }

    struct Phase {
        var rowsPresent: Int
        var insertsPerSecond: Double
        var bareInsertsPerSecond: Double
        var latestP50: Double, latestP99: Double
        var cameBackP50: Double, cameBackP99: Double
    }

    struct Result {
        var tool: String
        var loadSeconds: Double
        var empty: Phase
        var loaded: Phase

        var insertRatio: Double { loaded.insertsPerSecond / max(empty.insertsPerSecond, 1) }
        /// The insert ratio with the bare table's drift between phases divided out.
        var normalisedInsertRatio: Double {
            insertRatio / max(loaded.bareInsertsPerSecond / max(empty.bareInsertsPerSecond, 1), 0.000_001)
        }

        var summary: String {
            func line(_ name: String, _ p: Phase) -> String {
                String(format: "%@ (%d rows): insert %.0f rows/s (bare table %.0f/s); offline check reads: newest row p50 %.3f ms p99 %.3f ms, came back p50 %.3f ms p99 %.3f ms",
                       name, p.rowsPresent, p.insertsPerSecond, p.bareInsertsPerSecond, p.latestP50, p.latestP99, p.cameBackP50, p.cameBackP99)
            }
            return [line("empty ", empty), line("loaded", loaded),
                    String(format: "loaded %d rows in %.1f s; inserts loaded/empty %.3f (normalised by the bare table: %.3f); newest-row p50 loaded/empty %.2f (%@)",
                           loaded.rowsPresent, loadSeconds, insertRatio, normalisedInsertRatio,
                           loaded.latestP50 / max(empty.latestP50, 0.000_001), tool)].joined(separator: "\n")
        }

        var json: String {
            String(format: #"{"benchmark":"activity_growth","tool":"%@","rows":%d,"load_seconds":%.1f,"empty_inserts_per_second":%.0f,"loaded_inserts_per_second":%.0f,"empty_bare_per_second":%.0f,"loaded_bare_per_second":%.0f,"insert_ratio":%.3f,"normalised_insert_ratio":%.3f,"empty_latest_p50_ms":%.3f,"empty_latest_p99_ms":%.3f,"loaded_latest_p50_ms":%.3f,"loaded_latest_p99_ms":%.3f,"empty_came_back_p50_ms":%.3f,"loaded_came_back_p50_ms":%.3f}"#,
                   tool, loaded.rowsPresent, loadSeconds, empty.insertsPerSecond, loaded.insertsPerSecond,
                   empty.bareInsertsPerSecond, loaded.bareInsertsPerSecond, insertRatio, normalisedInsertRatio,
                   empty.latestP50, empty.latestP99, loaded.latestP50, loaded.latestP99, empty.cameBackP50, loaded.cameBackP50)
        }
    }

    static func run(_ settings: Settings, url: String, pool: ConnectionPool) async throws -> Result {
        // The day partitions the rows go to (as the periodic job makes them), and a bare control table.
        _ = try await pool.query("SELECT public.activity_partitions_create(now(), 3, interval '7 days')")
        try await pool.execute("DROP TABLE IF EXISTS activity_growth_bare")
        try await pool.execute("CREATE TABLE activity_growth_bare (customer_id bigint, kind text, at timestamptz DEFAULT now())")
        defer { Task { try? await pool.execute("DROP TABLE IF EXISTS activity_growth_bare") } }
        try await pool.execute("TRUNCATE public.activity")
        guard let pgbench = Pgbench.find() else {
            throw ValidationError("pgbench not found: install the postgresql package (it ships pgbench)")
        }

        let empty = try await phase(settings, rowsPresent: 0, url: url, pool: pool, pgbench: pgbench)
        // The inserts of the first phase go; the loaded phase starts from exactly --rows rows.
        try await pool.execute("TRUNCATE public.activity, activity_growth_bare")
        let start = ContinuousClock.now
        try await load(settings, pool: pool)
        let loadSeconds = (ContinuousClock.now - start).seconds
        let loaded = try await phase(settings, rowsPresent: settings.rows, url: url, pool: pool, pgbench: pgbench)
        return Result(tool: "pgbench", loadSeconds: loadSeconds, empty: empty, loaded: loaded)
    }

    /// `rows` heartbeats: customer after customer, each customer's rows spread over the days, one
    /// INSERT per day partition (customer order, so each index grows at its right edge).
    static func load(_ settings: Settings, pool: ConnectionPool) async throws {
        let perDay = settings.rows / settings.days
        for day in 0..<settings.days {
            let count = day == settings.days - 1 ? settings.rows - perDay * (settings.days - 1) : perDay
            let partition = try await pool.scalar("""
                SELECT 'activity_p' || to_char((now() AT TIME ZONE 'UTC')::date - \(day)::int, 'YYYYMMDD')
                """, as: String.self)
            // Today's rows stop a minute before now (a row may not be dated ahead of the clock).
            let span = day == 0
                ? "greatest(extract(epoch FROM now() - (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')) - 60, 1)"
                : "86399"
            // The partition's name is the database's own to_char of a date (letters and digits);
            // `span` is one of the two fragments above.
            try await pool.execute("""
                INSERT INTO public.\(raw: partition) (customer_id, kind, at)
                SELECT 1 + n * \(settings.customers)::bigint / \(count)::bigint, 'heartbeat',
                       (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') - \(day)::float8 * interval '1 day'
                           + (n % 86400)::float8 / 86400 * \(raw: span) * interval '1 second'
                FROM generate_series(0::bigint, \(count)::bigint - 1) n
                """)
        }
        try await pool.execute("VACUUM (ANALYZE) public.activity")
    }

    static func phase(_ settings: Settings, rowsPresent: Int, url: String, pool: ConnectionPool, pgbench: String) async throws -> Phase {
        try await pool.execute("VACUUM (ANALYZE) public.activity")
        let mix = Array(repeating: "heartbeat", count: 45) + ["page_view", "page_view", "tab_hidden", "tab_visible", "left"]
        let kinds = "(ARRAY[" + mix.map { "'\($0)'" }.joined(separator: ",") + "])[1 + floor(random() * \(mix.count))::int]"
        // Alternating runs, averaged: a slow spell of the machine falls on both tables alike.
        var rates: [String: Double] = [:]
        for _ in 0..<settings.rounds {
            for table in ["activity_growth_bare", "public.activity"] {
                let sql = "INSERT INTO \(table) (customer_id, kind) VALUES (1 + (random() * \(settings.customers - 1))::bigint, \(kinds));"
                rates[table, default: 0] += try Pgbench.run(pgbench, url: url, sql: sql, clients: settings.clients,
                                                                             transactions: settings.transactions) / Double(settings.rounds)
            }
        }
        // The offline check's reads of activity (ChatState.lockQuery, FollowUpRecord.customerReturned).
        var latest: [Double] = []
        var cameBack: [Double] = []
        for _ in 0..<settings.checks {
            let customer = Int64.random(in: 1...Int64(settings.customers))
            var start = ContinuousClock.now
            _ = try await pool.query(NewestActivity.query(customer: "\(customer)"))
            latest.append((ContinuousClock.now - start).seconds * 1000)
            start = ContinuousClock.now
            _ = try await pool.query("""
                SELECT 1 FROM public.activity a WHERE a.customer_id = \(customer) AND a.at > now() - interval '10 minutes'
                  AND a.kind IN ('heartbeat', 'page_view', 'tab_visible') LIMIT 1
                """)
            cameBack.append((ContinuousClock.now - start).seconds * 1000)
        }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        return Phase(rowsPresent: rowsPresent, insertsPerSecond: rates["public.activity"] ?? 0,
                     bareInsertsPerSecond: rates["activity_growth_bare"] ?? 0,
                     latestP50: percentile(latest, 0.5), latestP99: percentile(latest, 0.99),
                     cameBackP50: percentile(cameBack, 0.5), cameBackP99: percentile(cameBack, 0.99))
    }
}
