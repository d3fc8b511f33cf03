import Foundation
import Jobs
import Logging
import Postgres
import Wallet

/// The follow-up benchmarks (`followup bench followups`, `followup bench activity`). They print
/// figures; they are not tests. The caller provides the database and, for the end-to-end run,
/// providers pointed at loopback fakes (with their latency set, e.g. 50 ms).
public enum FollowUpBenchmark {
    // MARK: End to end

    public struct FollowUpsResult: Sendable {
        public var customers: Int
        public var channels: Int
        public var concurrency: Int
        public var seconds: Double
        public var followUpsPerSecond: Double
        public var deliveriesSent: Int
        public var deliveriesNotSent: Int

        /// One line of JSON, for scripts.
        public var json: String {
            String(format: #"{"benchmark":"followups","customers":%d,"channels":%d,"concurrency":%d,"seconds":%.3f,"followups_per_second":%.1f,"deliveries_sent":%d,"deliveries_not_sent":%d}"#,
                   customers, channels, concurrency, seconds, followUpsPerSecond, deliveriesSent, deliveriesNotSent)
        }
    }

    /// `customers` customers, spread over `channels` companies, have left the website mid-chat;
    /// their managers' answers arrive in one statement. Measures follow-ups completed per second
    /// through offline check → plan → text and email (each a provider call), until every delivery
    /// is finished. Each company's SMS wallet serializes its own holds and captures, so one
    /// channel alone is bounded by commit latency; many channels are the product's real shape.
    public static func followUps(pool: ConnectionPool, workerPool: ConnectionPool, providers: FollowUpProviders,
                                 customers: Int, channels: Int = 100, concurrency: Int, claimBatch: Int = 50,
                                 timeout: Duration = .seconds(600), logger: Logger) async throws -> FollowUpsResult {
        let channels = max(1, min(channels, customers))
        var ids: [Int64] = []
        for n in 1...channels {
            let id = try await pool.scalar("""
                INSERT INTO public.channels (name, plan, phone_enabled, email_enabled, default_country)
                VALUES (\("Benchmark Co \(n)"), 'free', true, true, 'US') RETURNING id
                """, as: Int64.self)
            // Free plan, credited here: a paid channel would also enqueue its monthly credit, a
            // wallet job this benchmark's poller does not run (and not what it measures).
            try await Wallet.credit(channelID: id, amountMicros: Int64(customers / channels + 1) * 100_000 + 1_000_000,
                                    reason: "benchmark credit", by: "benchmark", on: pool)
            ids.append(id)
        }
        let idArray = ids  // bound as a bigint[] (`Array: PostgresEncodable`)
        try await pool.execute("""
            WITH c AS (
                INSERT INTO public.customers (channel_id, name, phone, email, country, language)
                SELECT (\(idArray)::bigint[])[1 + n % \(channels)], 'Customer ' || n, '+1415' || lpad(n::text, 7, '0'),
                       'c' || n || '@example.com', 'US', 'en'
                FROM generate_series(1, \(customers)) n
                RETURNING id, channel_id
            ), ch AS (
                INSERT INTO public.chats (channel_id, customer_id) SELECT channel_id, id FROM c RETURNING id, customer_id
            ), m AS (
                INSERT INTO public.messages (chat_id, sender, body) SELECT id, 'customer', 'Where is my order?' FROM ch
            )
            INSERT INTO public.activity (customer_id, kind) SELECT customer_id, 'left' FROM ch
            """)

        var settings = FollowUpSettings.fast()
        settings.gatherDelay = .zero
        var registry = JobRegistry()
        FollowUpRuntime.register(in: &registry, providers: providers, settings: settings, logger: logger)
        var configuration = WorkerConfiguration()
        configuration.queues = [.init(settings.queue, concurrency: concurrency)]
        configuration.claimBatch = claimBatch
        configuration.safetyPoll = .milliseconds(100)
        configuration.shutdownGrace = .seconds(5)
        let worker = JobWorker(pool: workerPool, registry: registry, configuration: configuration, logger: logger)
        let task = Task { try await worker.run() }
        defer { worker.shutdown() }

        let start = ContinuousClock.now
        try await pool.execute("""
            INSERT INTO public.messages (chat_id, sender, body)
            SELECT id, 'manager', 'It left our warehouse this morning; tracking number 1Z999AA10123456784.'
            FROM public.chats WHERE channel_id = ANY(\(idArray)::bigint[])
            """)
        let deadline = start + timeout
        var finished = 0
        while ContinuousClock.now < deadline {
            // A light probe while jobs are left (a poll must not steal the database from the run it
            // measures): one row of each partial index is enough. Once the queue is empty, count.
            let busy = try await pool.scalar("""
                SELECT EXISTS (SELECT FROM public.jobs WHERE state = 'available' AND queue = \(settings.queue))
                    OR EXISTS (SELECT FROM public.jobs WHERE state = 'running' AND queue = \(settings.queue))
                """, as: Bool.self)
            if !busy {
                let row = try await pool.first("""
                    SELECT (SELECT count(*)::int FROM public.follow_ups
                            WHERE channel_id = ANY(\(idArray)::bigint[]) AND status NOT IN ('pending', 'awaiting_push_ack')),
                           (SELECT count(*)::int FROM public.deliveries
                            WHERE status IN ('queued', 'sending') AND channel_id = ANY(\(idArray)::bigint[]))
                    """)
                finished = try row?.decode(Int.self, at: 0) ?? 0
                let unsettled = try row?.decode(Int.self, at: 1) ?? 0
                if finished >= customers && unsettled == 0 { break }
            }
            try await Task.sleep(for: .milliseconds(busy ? 20 : 100))
        }
        let elapsed = (ContinuousClock.now - start).seconds
        worker.shutdown()
        _ = try? await task.value
        let counts = try await pool.first("""
            SELECT count(*) FILTER (WHERE status IN ('sent', 'delivered'))::int, count(*) FILTER (WHERE status NOT IN ('sent', 'delivered'))::int
            FROM public.deliveries WHERE channel_id = ANY(\(idArray)::bigint[])
            """)
        return FollowUpsResult(customers: customers, channels: channels, concurrency: concurrency, seconds: elapsed,
                               followUpsPerSecond: Double(finished) / max(elapsed, 0.000_001),
                               deliveriesSent: try counts?.decode(Int.self, at: 0) ?? 0,
                               deliveriesNotSent: try counts?.decode(Int.self, at: 1) ?? 0)
    }

    // MARK: Activity ingest

    public struct ActivityResult: Sendable {
        public var tool: String
        public var clients: Int
        public var seconds: Int
        public var activityRowsPerSecond: Double
        public var bareRowsPerSecond: Double
        public var ratio: Double { activityRowsPerSecond / max(bareRowsPerSecond, 0.000_001) }

        public var json: String {
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
    public static func activity(databaseURL: String, pool: ConnectionPool, clients: Int, seconds: Int,
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
        let pgbench = findPgbench()
        for _ in 0..<rounds {
            for table in ["activity_bare", "activity"] {
                let sql = "INSERT INTO \(table) (customer_id, kind) VALUES (1 + (random() * \(customers - 1))::bigint, \(kinds));"
                let rate: Double
                if let pgbench {
                    rate = try runPgbench(pgbench, url: databaseURL, sql: sql, clients: clients, transactions: transactionsPerClient)
                } else {
                    rate = try await runSwiftClients(pool: pool, sql: sql, clients: clients, seconds: seconds)
                }
                if table == "activity" { activity.append(rate) } else { bare.append(rate) }
            }
        }
        return ActivityResult(tool: pgbench == nil ? "swift" : "pgbench", clients: clients, seconds: seconds,
                              activityRowsPerSecond: activity.reduce(0, +) / Double(activity.count),
                              bareRowsPerSecond: bare.reduce(0, +) / Double(bare.count))
    }

    public static func findPgbench() -> String? {
        var candidates = ["/usr/bin/pgbench", "/usr/local/bin/pgbench"]
        if let dirs = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            candidates += dirs.sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin/pgbench" }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs one pgbench with a one-statement script; returns transactions (= rows) per second.
    public static func runPgbench(_ pgbench: String, url: String, sql: String, clients: Int, transactions: Int) throws -> Double {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("followup-bench-\(UUID().uuidString).sql")
        try sql.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: pgbench)
        process.arguments = ["-n", "-f", script.path, "-c", String(clients), "-j", String(min(clients, 4)),
                             "-t", String(transactions), "-M", "prepared", url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0,
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let value = Double(line.dropFirst("tps = ".count).split(separator: " ").first ?? "") else {
            throw BenchmarkError("pgbench failed (exit \(process.terminationStatus))")
        }
        return value
    }

    /// Without pgbench: `clients` tasks inserting one row per statement for `seconds`.
    static func runSwiftClients(pool: ConnectionPool, sql: String, clients: Int, seconds: Int) async throws -> Double {
        let deadline = ContinuousClock.now + .seconds(seconds)
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        try await pool.execute(Query(sql: sql))
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(total) / (ContinuousClock.now - start).seconds
    }

    public struct BenchmarkError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
