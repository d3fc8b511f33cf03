import Foundation
import Postgres

/// Every statement the queue runs, in one place (as River keeps them in one .sql file).
/// All values are bound parameters.
enum QueueSQL {
    static let jobColumns = """
        j.id, j.queue, j.kind, j.payload::text, j.attempt, j.max_attempts, j.priority, j.run_at, j.created_at,
        extract(epoch FROM clock_timestamp() - j.run_at)::float8 AS lateness
        """

    /// Claims up to `limit` due jobs of one queue, most urgent priority first, then by due time and id.
    ///
    /// One index range scan per priority level (`jobs_claim_idx`), walked lazily: the nested loop
    /// stops as soon as `limit` rows are locked, so a lower level is read (and locked) only when
    /// the levels above it could not fill the batch. O(log n) however many rows are scheduled later.
    ///
    /// The claim commits asynchronously (`synchronous_commit = off`, for this transaction only):
    /// losing it in a crash only returns the jobs to 'available', and any later durable commit —
    /// a handler's fenced step or completion, which touch the same rows — flushes the WAL
    /// through the claim first. So no fsync wait sits on the claim path.
    static func claim(queue: String, limit: Int, worker: String, lease: Duration) -> Query {
        """
        WITH async_commit AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)),
        picked AS MATERIALIZED (
            SELECT c.id
            FROM unnest('{1,2,3,4}'::smallint[]) AS level(priority)
            CROSS JOIN LATERAL (
                SELECT id FROM public.jobs
                WHERE state = \(raw: JobState.available.literal) AND queue = \(queue) AND priority = level.priority AND run_at <= now()
                ORDER BY run_at, id
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            ) c
            LIMIT \(limit)
        )
        UPDATE public.jobs j
        SET state = \(raw: JobState.running.literal), attempt = j.attempt + 1, attempted_at = now(), attempted_by = \(worker),
            lease_expires_at = now() + \(lease)::interval
        FROM picked, async_commit
        WHERE j.id = picked.id
        RETURNING \(raw: jobColumns)
        """
    }

    static func decodeJob(_ row: Row) throws -> Job {
        Job(id: try row.decode("id"), queue: try row.decode("queue"), kind: try row.decode("kind"),
            payload: try row.decode("payload"), attempt: try row.decode("attempt"), maxAttempts: try row.decode("max_attempts"),
            priority: try row.decode("priority"), runAt: try row.decode("run_at"), createdAt: try row.decode("created_at"),
            lateness: try row.decode("lateness"))
    }

    /// Seconds until the next job of the queue becomes due, by the database clock (NULL: none
    /// waiting). Same index, one probe per level.
    static func secondsUntilNextDue(queue: String) -> Query {
        """
        SELECT extract(epoch FROM min(n.run_at) - now())::float8 FROM unnest('{1,2,3,4}'::smallint[]) AS level(priority)
        CROSS JOIN LATERAL (
            SELECT run_at FROM public.jobs
            WHERE state = \(raw: JobState.available.literal) AND queue = \(queue) AND priority = level.priority
            ORDER BY run_at, id LIMIT 1
        ) n
        """
    }

    /// What a completion keeps of a job: the columns of `job_history`, read from the deleted row `d`.
    static let historyColumns = "id, queue, kind, state, priority, attempt, max_attempts, unique_key, errors, created_at, run_at, attempted_at, attempted_by, finished_at"
    static let historyValues = """
        d.id, d.queue, d.kind, \(JobState.completed.literal), d.priority, d.attempt, d.max_attempts, d.unique_key, nullif(d.errors, '[]'),
        d.created_at, d.run_at, d.attempted_at, d.attempted_by, now()
        """

    /// The fence and the completion in one statement: only the holder of (id, attempt) succeeds;
    /// anyone else gets `FJ001` (see `jobs_lease_lost`) rather than no row, so it is safe to send
    /// together with COMMIT. The job leaves `jobs` and its record goes to `job_history`, both in
    /// the caller's transaction (a data-modifying CTE runs whether or not it is read).
    static func completeOrRaise(id: Int64, attempt: Int) -> Query {
        """
        WITH done AS (
            DELETE FROM public.jobs
            WHERE id = \(id) AND attempt = \(attempt) AND state = \(raw: JobState.running.literal)
            RETURNING *
        ), kept AS (
            INSERT INTO public.job_history (\(raw: historyColumns)) SELECT \(raw: historyValues) FROM done d
        )
        SELECT public.jobs_lease_lost(\(id), \(attempt)) WHERE NOT EXISTS (SELECT FROM done)
        """
    }

    /// Completes many jobs at once, each fenced on its own (id, attempt), moving them to
    /// `job_history` like `completeOrRaise`. Returns the ids completed.
    static func completeMany(ids: [Int64], attempts: [Int]) -> Query {
        """
        WITH done AS (
            DELETE FROM public.jobs j
            USING unnest(\(ids)::bigint[], \(attempts)::int[]) AS mine(id, attempt)
            WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = \(raw: JobState.running.literal)
            RETURNING j.*
        ), kept AS (
            INSERT INTO public.job_history (\(raw: historyColumns)) SELECT \(raw: historyValues) FROM done d
        )
        SELECT id FROM done
        """
    }

    /// Locks the job row for the rest of the transaction iff (id, attempt) is still running;
    /// otherwise raises `FJ001`, so it is safe to send together with COMMIT.
    static func fenceOrRaise(id: Int64, attempt: Int) -> Query {
        """
        WITH mine AS (SELECT FROM public.jobs WHERE id = \(id) AND attempt = \(attempt) AND state = \(raw: JobState.running.literal) FOR UPDATE)
        SELECT public.jobs_lease_lost(\(id), \(attempt)) WHERE NOT EXISTS (SELECT FROM mine)
        """
    }

    /// Whether autovacuum runs, and how many seconds it sleeps between looks at each database.
    static let autovacuumSettings: Query = """
        SELECT current_setting('autovacuum')::bool, extract(epoch FROM current_setting('autovacuum_naptime')::interval)::int
        """

    /// The SQLSTATE of `jobs_lease_lost`.
    static let leaseLostState = "FJ001"

    /// A failed attempt: back to 'available' after `backoff`, or 'dead' when attempts are used up
    /// (or `permanent`). Returns the new state.
    static func fail(id: Int64, attempt: Int, error: String, backoff: Duration, permanent: Bool) -> Query {
        """
        UPDATE public.jobs SET
            state = CASE WHEN \(permanent) OR attempt >= max_attempts THEN \(raw: JobState.dead.literal) ELSE \(raw: JobState.available.literal) END,
            run_at = CASE WHEN \(permanent) OR attempt >= max_attempts THEN run_at ELSE now() + \(backoff)::interval END,
            finished_at = CASE WHEN \(permanent) OR attempt >= max_attempts THEN now() END,
            lease_expires_at = NULL,
            errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(), 'error', \(error)::text,
                'retry_in_ms', CASE WHEN \(permanent) OR attempt >= max_attempts THEN NULL
                                    ELSE round(extract(epoch FROM \(backoff)::interval) * 1000) END))
        WHERE id = \(id) AND attempt = \(attempt) AND state = \(raw: JobState.running.literal)
        RETURNING state
        """
    }

    /// Run again after `delay` without using up an attempt.
    static func snooze(id: Int64, attempt: Int, delay: Duration) -> Query {
        """
        UPDATE public.jobs SET state = \(raw: JobState.available.literal), run_at = now() + \(delay)::interval, max_attempts = max_attempts + 1,
            lease_expires_at = NULL
        WHERE id = \(id) AND attempt = \(attempt) AND state = \(raw: JobState.running.literal)
        """
    }

    /// Hands jobs back at shutdown, due at once, without using up an attempt.
    static func release(ids: [Int64], attempts: [Int]) -> Query {
        """
        UPDATE public.jobs j SET state = \(raw: JobState.available.literal), run_at = now(), max_attempts = j.max_attempts + 1, lease_expires_at = NULL
        FROM unnest(\(ids)::bigint[], \(attempts)::int[]) AS mine(id, attempt)
        WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = \(raw: JobState.running.literal)
        """
    }

    /// Extends the leases of the jobs this worker still runs.
    static func heartbeat(ids: [Int64], attempts: [Int], lease: Duration) -> Query {
        """
        UPDATE public.jobs j SET lease_expires_at = now() + \(lease)::interval
        FROM unnest(\(ids)::bigint[], \(attempts)::int[]) AS mine(id, attempt)
        WHERE j.id = mine.id AND j.attempt = mine.attempt AND j.state = \(raw: JobState.running.literal)
        """
    }

    /// Running jobs whose lease ran out (their worker died or hung): due again, or dead when out
    /// of attempts. Skips rows a live transaction holds.
    static func rescue(limit: Int) -> Query {
        """
        UPDATE public.jobs j SET
            state = CASE WHEN j.attempt >= j.max_attempts THEN \(raw: JobState.dead.literal) ELSE \(raw: JobState.available.literal) END,
            run_at = now(),
            finished_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
            lease_expires_at = NULL,
            errors = j.errors || jsonb_build_array(jsonb_build_object('attempt', j.attempt, 'at', now(),
                'error', 'lease expired: worker ' || coalesce(j.attempted_by, '?') || ' stopped heartbeating'))
        FROM (SELECT id FROM public.jobs WHERE state = \(raw: JobState.running.literal) AND lease_expires_at < now()
              ORDER BY lease_expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED) expired
        WHERE j.id = expired.id
        RETURNING j.id, j.state
        """
    }

    /// Deletes dead and cancelled jobs past their retention, a bounded batch at a time (and completed
    /// ones, which only a schema older than `job_history` left in `jobs`).
    static func prune(completedBefore: Duration, deadBefore: Duration, limit: Int) -> Query {
        """
        DELETE FROM public.jobs WHERE id IN (
            SELECT id FROM public.jobs
            WHERE (state IN (\(raw: JobState.completed.literal), \(raw: JobState.cancelled.literal)) AND finished_at < now() - \(completedBefore)::interval)
               OR (state = \(raw: JobState.dead.literal) AND finished_at < now() - \(deadBefore)::interval)
            LIMIT \(limit) FOR UPDATE SKIP LOCKED)
        """
    }

    /// Creates the `job_history` partition for `range` unless it exists. Returns whether it did.
    static func createHistoryPartition(_ range: Range<Date>) -> Query {
        "SELECT public.job_history_create_partition(\(range.lowerBound)::timestamptz, \(range.upperBound)::timestamptz)"
    }

    /// Drops the `job_history` partitions that end at or before `before`. Returns their names.
    static func dropHistoryPartitions(before: Date) -> Query {
        "SELECT public.job_history_drop_partitions(\(before)::timestamptz)"
    }
}
