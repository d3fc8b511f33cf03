import Metrics

/// What a worker reports through swift-metrics (docs/operations.md lists every family). Whoever
/// bootstraps `MetricsSystem` decides where it goes (`followup run --metrics-port`: Prometheus);
/// without a bootstrap these are no-ops.
///
/// Per-process facts only: claims, outcomes, durations, rescues, jobs in flight, connections.
/// Queue-wide facts (depth, claim lag) come from SQL, once per scrape, by the process serving
/// `/metrics` — not from every poller.
enum JobMetrics {
    static func claimed(_ job: Job) {
        Counter(label: "jobs_claimed_total", dimensions: [("queue", job.queue), ("kind", job.kind)]).increment()
        Timer(label: "job_claim_lateness_seconds", dimensions: [("queue", job.queue)])
            .recordNanoseconds(Int64(max(0, job.lateness) * 1_000_000_000))
    }

    /// One attempt's end: `done`, `snoozed`, `retry`, `dead` or `lease_lost`.
    static func finished(_ job: Job, outcome: String) {
        Counter(label: "jobs_finished_total", dimensions: [("queue", job.queue), ("kind", job.kind), ("outcome", outcome)]).increment()
    }

    static func duration(_ job: Job, _ elapsed: Duration) {
        let (seconds, attoseconds) = elapsed.components
        Timer(label: "job_duration_seconds", dimensions: [("queue", job.queue), ("kind", job.kind)])
            .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    static func rescued(_ count: Int) {
        Counter(label: "jobs_rescued_total").increment(by: count)
    }

    /// Sampled by the maintenance loop.
    static func worker(inFlight: [String: Int], connections: Int, queues: [String]) {
        for queue in queues {
            Gauge(label: "jobs_in_flight", dimensions: [("queue", queue)]).record(inFlight[queue] ?? 0)
        }
        Gauge(label: "worker_database_connections").record(connections)
    }
}
