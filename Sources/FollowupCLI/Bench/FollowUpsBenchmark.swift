import FollowUp
import Foundation
import Jobs
import Logging
import Postgres
import Wallet

/// `followup bench followups`: follow-ups per second end to end. It prints figures; it is not a
/// test. The caller provides the database and providers pointed at loopback fakes (with their
/// latency set, e.g. 50 ms).
enum FollowUpsBenchmark {

    struct FollowUpsResult: Sendable {
        var customers: Int
        var channels: Int
        var concurrency: Int
        var seconds: Double
        var followUpsPerSecond: Double
        var deliveriesSent: Int
        var deliveriesNotSent: Int
        /// The benchmark's channels (the anchor replays follow-ups on their chats).
        var channelIDs: [Int64] = []

        /// One line of JSON, for scripts.
        var json: String {
            String(format: #"{"benchmark":"followups","customers":%d,"channels":%d,"concurrency":%d,"seconds":%.3f,"followups_per_second":%.1f,"deliveries_sent":%d,"deliveries_not_sent":%d}"#,
                   customers, channels, concurrency, seconds, followUpsPerSecond, deliveriesSent, deliveriesNotSent)
        }
    }

    /// `customers` customers, spread over `channels` companies, have left the website mid-chat;
    /// their managers' answers arrive in one statement. Measures follow-ups completed per second
    /// through offline check → plan → text and email (each a provider call), until every delivery
    /// is finished. Each company's SMS wallet serializes its own holds and captures, so one
    /// channel alone is bounded by commit latency; many channels are the product's real shape.
    static func followUps(pool: ConnectionPool, workerPool: ConnectionPool, providers: FollowUpProviders,
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
        let idArray = ids  // bound as a bigint[]
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
                               deliveriesNotSent: try counts?.decode(Int.self, at: 1) ?? 0, channelIDs: ids)
    }
}
