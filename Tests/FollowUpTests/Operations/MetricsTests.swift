import Fakes
import Foundation
@testable import FollowUp
import Jobs
import Logging
import Outbound
import Postgres
import Server
import Testing
import TestSupport

/// `/metrics` as `followup serve` serves it, beside a poller in the same process (so the
/// poller's swift-metrics counters land in the registry the route exports), parsed by
/// `prometheus_client`'s parser: every family docs/operations.md lists is there, and moves when
/// a follow-up's jobs run.
@Suite("Metrics") struct MetricsTests {
    @Test("/metrics parses as Prometheus text; job, delivery, queue and wallet families move when a follow-up runs")
    func metricsMove() async throws {
        ProcessMetrics.bootstrap()
        try await withFollowUpHarness(settings: .fast()) { h in
            var followUps = FollowUpSettings()
            followUps.replySecret = "a-reply-secret-for-this-test"
            let server = try await RunningServer.start(.init(
                pool: h.pool, settings: ServerSettings(followUps: followUps, publicURL: nil, twilioAuthToken: nil, inboundMailSecret: nil),
                logger: Logger(label: "test.serve")))
            h.scope.onEnd { await server.stop() }
            func scrape() async throws -> [PrometheusParser.Sample] {
                let response = try await h.client.send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/metrics", timeout: .seconds(10)))
                #expect(response.status == 200)
                #expect(response.headers.first { $0.name.lowercased() == "content-type" }?.value.hasPrefix("text/plain; version=0.0.4") == true)
                return try PrometheusParser.parse(String(decoding: response.body, as: UTF8.self))
            }

            let before = try await scrape()
            // Queue-wide gauges are always there (read from SQL on this scrape).
            for family in ["followup_wallet_holds_open", "followup_wallet_hold_oldest_age_seconds", "followup_wallet_top_ups_in_flight",
                           "followup_wallet_top_ups_failed_last_day", "followup_queue_gauges_up"] {
                #expect(before.families.contains(family), "\(family) missing before")
            }
            #expect(before.value("followup_queue_gauges_up") == 1)

            // A follow-up: an SMS and an email go out through the loopback providers.
            h.startWorker()
            let (_, _, chat) = try await h.offlineChat(asks: "Where is my order?", answer: "It ships today.")
            // A job due in an hour: it waits in `jobs` (completed ones leave for job_history).
            try await h.pool.execute("SELECT jobs_enqueue('ops.later', run_at => now() + interval '1 hour')")
            let rows = try await h.settled(chat: chat, count: 2)
            #expect(rows.allSatisfy { $0.status == "sent" }, "\(rows)")

            // Completions are batched: wait until the counters have caught up.
            var after: [PrometheusParser.Sample] = []
            let moved = await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
                after = (try? await scrape()) ?? []
                return (after.value("jobs_finished_total", ["kind": "followup.deliver", "outcome": "done"]) ?? 0)
                    > (before.value("jobs_finished_total", ["kind": "followup.deliver", "outcome": "done"]) ?? 0)
            }
            #expect(moved, "jobs_finished_total did not move")
            func grew(_ name: String, _ labels: [String: String] = [:]) -> Bool {
                (after.value(name, labels) ?? 0) > (before.value(name, labels) ?? 0)
            }
            // The poller's own counters and histograms (swift-metrics → swift-prometheus).
            #expect(grew("jobs_claimed_total", ["kind": "followup.deliver"]))
            #expect(grew("job_duration_seconds_count", ["kind": "followup.deliver"]))
            #expect(grew("job_claim_lateness_seconds_count"))
            #expect(after.contains { $0.name == "job_duration_seconds_bucket" && $0.labels["le"] == "+Inf" })
            #expect(grew("deliveries_total", ["route": "email", "status": "sent"]))
            #expect(grew("provider_call_duration_seconds_count", ["route": "email"]))
            // Queue-wide gauges from SQL.
            #expect(after.value("followup_jobs", ["kind": "ops.later", "state": "available"]) == 1)
            #expect(after.families.contains("followup_jobs_claim_lag_seconds"))
            #expect((after.value("followup_follow_ups_last_hour") ?? 0) >= 1)
            #expect((after.value("followup_deliveries_last_hour", ["route": "email", "status": "sent"]) ?? 0) >= 1)
            #expect(after.value("followup_wallet_holds_open") == 0, "every hold was captured")

            // A job that fails for good: the dead outcome and the gauge.
            try await JobQueue.enqueue(kind: "ops.no-such-kind", on: h.pool)
            let dead = await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
                after = (try? await scrape()) ?? []
                // The counter moves when the poller records it, the gauge when the next scrape reads SQL.
                return after.value("jobs_finished_total", ["kind": "ops.no-such-kind", "outcome": "dead"]) == 1
                    && after.value("followup_jobs", ["kind": "ops.no-such-kind", "state": "dead"]) == 1
            }
            #expect(dead)
            #expect(after.value("followup_jobs_claim_lag_seconds", ["kind": "ops.no-such-kind"]) == 0)
            let sampled = await eventually(timeout: .seconds(10), every: .milliseconds(200)) {
                after = (try? await scrape()) ?? []
                return after.families.contains("jobs_in_flight") && after.families.contains("worker_database_connections")
            }
            #expect(sampled, "the worker's gauges were never sampled")
        }
    }
}
