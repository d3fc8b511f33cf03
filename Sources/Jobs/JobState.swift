import Postgres

/// A job's state: the `job_state` Postgres enum, as a Swift value that binds and decodes itself.
///
/// `available` (waiting for `run_at`) → `running` (claimed, leased) → `completed` (the row leaves
/// `jobs` for `job_history`) | back to `available` (retry, snooze, rescue, hand-back) | `dead`
/// (out of attempts, or a permanent error) | `cancelled` (by an operator). Dead and cancelled jobs
/// stay in `jobs` until their retention, so an operator can retry them.
public enum JobState: String, Sendable, CaseIterable, PostgresCodable {
    case available, running, completed, dead, cancelled

    public var postgresText: String? { rawValue }

    public init(postgresText text: String) throws {
        guard let state = JobState(rawValue: text) else { throw UnknownJobState(text: text) }
        self = state
    }

    /// The state as a typed SQL literal (`'running'::public.job_state`), for predicates that must
    /// match a partial index's (a bound parameter would not): `\(raw: JobState.running.literal)`.
    /// Safe to splice: the text comes from this closed enum, never from input.
    public var literal: String { "'\(rawValue)'::public.job_state" }

    /// Live jobs: what `jobs_unique_idx` and the claim care about.
    public var isLive: Bool { self == .available || self == .running }
}

/// A `job_state` value this build does not know (a newer schema).
public struct UnknownJobState: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var description: String { "unknown job state \"\(text)\"" }
}
