import Foundation
import Logging
import Postgres
import Prometheus

/// The queue-wide gauges: read from SQL in one statement, once per scrape, by the process serving
/// `/metrics` with them (`serve`; docs/operations.md). Every poller counts what it does itself;
/// what the whole queue looks like is asked of the database, by one process, not by each poller.
///
/// A label set seen before but absent now (a kind whose last job was pruned) is set to 0, not
/// left at its last value.
actor QueueGauges {
    private let registry: PrometheusCollectorRegistry
    private var gauges: [String: Gauge] = [:]

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    /// Family, help, label names, in the order the statement returns label values.
    private static let families: [String: (help: String, labels: [String])] = [
        "followup_jobs": ("Jobs in the table, by queue, kind and state", ["queue", "kind", "state"]),
        "followup_jobs_claim_lag_seconds": ("now − run_at of the oldest due, unclaimed job, by queue and kind (0: none waiting)", ["queue", "kind"]),
        "followup_wallet_holds_open": ("SMS wallet holds neither captured nor released", []),
        "followup_wallet_hold_oldest_age_seconds": ("Age of the oldest open hold (0: none)", []),
        "followup_wallet_top_ups_in_flight": ("Auto-charge top-ups pending or charging", []),
        "followup_wallet_top_ups_failed_last_day": ("Auto-charge top-ups declined or failed, requested in the last 24 hours", []),
        "followup_follow_ups_last_hour": ("Follow-ups created in the last hour, by their status now", ["status"]),
        "followup_deliveries_last_hour": ("Deliveries created in the last hour, by route and status now", ["route", "status"]),
    ]

    /// One statement, every family: (family, label values..., value). The jobs rows (counts per
    /// state, and the lag per queue and kind: 0 when nothing is waiting) are one pass over `jobs`
    /// (live, dead and cancelled jobs only: completed ones leave it for job_history); holds use the partial index on holds (`transfers_holds_idx`); the
    /// last-hour rows use the created_at indexes.
    static let statement: Query = """
        SELECT CASE WHEN GROUPING(j.state) = 0 THEN 'followup_jobs' ELSE 'followup_jobs_claim_lag_seconds' END,
               j.queue, j.kind, coalesce(j.state::text, ''),
               CASE WHEN GROUPING(j.state) = 0 THEN count(*)::float8
                    ELSE coalesce(extract(epoch FROM now() - min(j.run_at) FILTER (WHERE j.state = 'available' AND j.run_at <= now())), 0)::float8
               END
        FROM public.jobs j GROUP BY GROUPING SETS ((j.queue, j.kind, j.state), (j.queue, j.kind))
        UNION ALL
        SELECT 'followup_wallet_holds_open', '', '', '', count(*)::float8 FROM wallet.transfers h
        WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM wallet.transfers s WHERE s.settles = h.id)
        UNION ALL
        SELECT 'followup_wallet_hold_oldest_age_seconds', '', '', '', coalesce(extract(epoch FROM now() - min(h.created_at)), 0)::float8
        FROM wallet.transfers h WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM wallet.transfers s WHERE s.settles = h.id)
        UNION ALL
        SELECT 'followup_wallet_top_ups_in_flight', '', '', '', count(*)::float8 FROM wallet.top_ups t
        WHERE t.state IN ('pending', 'charging')
        UNION ALL
        SELECT 'followup_wallet_top_ups_failed_last_day', '', '', '', count(*)::float8 FROM wallet.top_ups t
        WHERE t.state IN ('declined', 'failed') AND t.requested_at > now() - interval '1 day'
        UNION ALL
        SELECT 'followup_follow_ups_last_hour', f.status, '', '', count(*)::float8 FROM public.follow_ups f
        WHERE f.created_at > now() - interval '1 hour' GROUP BY 2
        UNION ALL
        SELECT 'followup_deliveries_last_hour', d.route, d.status, '', count(*)::float8 FROM public.deliveries d
        WHERE d.created_at > now() - interval '1 hour' GROUP BY 2, 3
        """

    /// Reads the statement and sets every gauge. Throws when the database cannot be read (the
    /// scrape then serves the process's counters and `followup_queue_gauges_up 0`).
    func refresh(_ db: some Queryable) async throws {
        let rows = try await db.query(Self.statement)
        var seen = Set<String>()
        for row in rows {
            let family = try row.decode(String.self, at: 0)
            guard let spec = Self.families[family] else { continue }
            let values = try (1...3).map { try row.decode(String.self, at: $0) }
            let labels = Array(zip(spec.labels, values))
            let key = family + "|" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
            seen.insert(key)
            gauge(key, family, labels, help: spec.help).set(to: try row.decode(Double.self, at: 4))
        }
        for (key, gauge) in gauges where !seen.contains(key) { gauge.set(to: 0) }
        // Families with no label and no row (no holds): present, at 0.
        for (family, spec) in Self.families where spec.labels.isEmpty && !seen.contains(family + "|") {
            gauge(family + "|", family, [], help: spec.help).set(to: 0)
        }
    }

    private func gauge(_ key: String, _ family: String, _ labels: [(String, String)], help: String) -> Gauge {
        if let gauge = gauges[key] { return gauge }
        let gauge = registry.makeGauge(descriptor: .init(metricName: family, unitName: "", helpText: help), labels: labels)
        gauges[key] = gauge
        return gauge
    }
}
