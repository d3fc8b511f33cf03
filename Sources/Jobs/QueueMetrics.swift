import Postgres

/// Counters one worker keeps, and the queue depth read from the database.
public final class QueueMetrics: Sendable {
    public struct Snapshot: Sendable, Codable {
        public var claimed = 0
        public var completed = 0
        public var retried = 0
        public var dead = 0
        public var snoozed = 0
        public var leaseLost = 0
        public var rescued = 0
        /// Claim lateness (claim time − due time), milliseconds, most recent samples.
        public var latenessMilliseconds: [Double] = []
    }

    private let state = LockedValue(Snapshot())
    private let sampleLimit = 100_000

    public init() {}

    public var snapshot: Snapshot { state.current }

    func record(_ change: (inout Snapshot) -> Void) { state.withLock { change(&$0) } }

    func recordClaims(_ jobs: [Job]) {
        state.withLock { snapshot in
            snapshot.claimed += jobs.count
            if snapshot.latenessMilliseconds.count + jobs.count > sampleLimit {
                snapshot.latenessMilliseconds.removeFirst(min(snapshot.latenessMilliseconds.count, jobs.count))
            }
            snapshot.latenessMilliseconds.append(contentsOf: jobs.map { max(0, $0.lateness * 1000) })
        }
    }

    /// Jobs per queue and state, straight from `jobs` (completed jobs are in `job_history`, not counted).
    public static func depth(_ db: some Queryable) async throws -> [(queue: String, state: JobState, count: Int, due: Int)] {
        try await db.query("""
            SELECT queue, state, count(*)::bigint, count(*) FILTER (WHERE state = \(raw: JobState.available.literal) AND run_at <= now())::bigint
            FROM public.jobs GROUP BY 1, 2 ORDER BY 1, 2
            """).map { (try $0.decode(String.self, at: 0), try $0.decode(JobState.self, at: 1),
                        try $0.decode(Int.self, at: 2), try $0.decode(Int.self, at: 3)) }
    }
}

/// The p-th percentile (0...100) of `values`, nearest-rank.
public func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
