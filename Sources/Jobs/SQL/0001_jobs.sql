-- The job queue (the Jobs module). Postgres is the queue: pollers claim due rows with
-- FOR UPDATE SKIP LOCKED. Anything may enqueue with plain SQL, in its own transaction:
--
--   SELECT jobs_enqueue('followup.offline_check', '{"chat_id": 42}', run_at => now() + interval '270 seconds',
--                       unique_key => 'offline_check:42');
--
-- or INSERT INTO jobs (kind, payload, ...) directly. The job exists iff that transaction commits,
-- and a statement-level trigger wakes the pollers (NOTIFY is delivered at commit). Functions and
-- triggers are in R__jobs.sql (repeatable: applied again whenever its text changes).
--
-- `jobs` is the claim table: it holds live jobs ('available', 'running') and, for an operator's
-- retry, 'dead' and 'cancelled' ones until their retention. A completed job leaves it: the
-- completion deletes the row and writes its record to `job_history` in the same statement.

CREATE TYPE job_state AS ENUM ('available', 'running', 'completed', 'dead', 'cancelled');

CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue            text NOT NULL DEFAULT 'default' CHECK (queue ~ '^[a-z0-9_.-]{1,64}$'),
    kind             text NOT NULL CHECK (length(kind) BETWEEN 1 AND 200),
    payload          jsonb NOT NULL DEFAULT '{}',
    -- 1 is most urgent, 4 least. Few levels keep the claim an index range scan per level.
    priority         smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 4),
    state            job_state NOT NULL DEFAULT 'available',
    -- When the job becomes due (for 'available'); the claim takes due jobs only.
    run_at           timestamptz NOT NULL DEFAULT now(),
    -- Incremented by every claim; (id, attempt) fences a worker's writes.
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL DEFAULT 20 CHECK (max_attempts > 0),
    -- At most one live ('available' or 'running') job per key.
    unique_key       text,
    -- One object per failed attempt: {"attempt": n, "at": time, "error": text}.
    errors           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(errors) = 'array'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempted_at     timestamptz,
    attempted_by     text,
    lease_expires_at timestamptz,
    finished_at      timestamptz
) WITH (
    -- Every job is inserted, updated once or twice and deleted within seconds: vacuum early and
    -- without throttling, so the claim index does not fill with dead entries (docs/queue.md).
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0
);

-- The claim: per priority level, due rows in (run_at, id) order. Only 'available' rows are in it,
-- so finished history never slows a claim.
CREATE INDEX jobs_claim_idx ON jobs (queue, priority, run_at, id) WHERE state = 'available';
-- The rescuer: running jobs whose lease ran out.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
-- Unique jobs: concurrent inserts of one key leave one live job; a rolled-back insert leaves none.
CREATE UNIQUE INDEX jobs_unique_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'running');
-- Pruning dead and cancelled jobs after their retention (completed ones are not in `jobs`).
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state IN ('cancelled', 'dead');

-- What is kept of a completed job once it left `jobs`: enough to answer "did job N run, when, where,
-- after how many attempts and which errors" — not its payload (the domain's own rows hold the
-- outcome, and a payload may carry personal data). Written by the completion (QueueSQL), in the
-- handler's transaction. Partitioned by finished_at: the pollers create partitions ahead and drop
-- whole partitions after the retention (Maintenance/HistoryPartitions.swift; the functions are
-- in R__jobs.sql). The default partition takes rows no partition covers (maintenance not run
-- yet), so a completion never fails for want of a partition; it is pruned by DELETE.
-- No index: rows are only ever read by time, a partition at a time.
CREATE TABLE job_history (
    id           bigint NOT NULL,
    queue        text NOT NULL,
    kind         text NOT NULL,
    state        job_state NOT NULL,
    priority     smallint NOT NULL,
    attempt      integer NOT NULL,
    max_attempts integer NOT NULL,
    unique_key   text,
    -- The failed attempts before it finished, as in `jobs.errors`; NULL when there were none.
    errors       jsonb,
    created_at   timestamptz NOT NULL,
    run_at       timestamptz NOT NULL,
    attempted_at timestamptz,
    attempted_by text,
    finished_at  timestamptz NOT NULL
) PARTITION BY RANGE (finished_at);
CREATE TABLE job_history_default PARTITION OF job_history DEFAULT;

-- Periodic jobs without cron: every poller tries to advance a schedule's tick with a
-- compare-and-set; the one that wins enqueues that tick's job in the same transaction.
-- Missed ticks (downtime) coalesce into one run at the next check.
CREATE TABLE job_schedules (
    name        text PRIMARY KEY,
    kind        text NOT NULL,
    queue       text NOT NULL DEFAULT 'default',
    payload     jsonb NOT NULL DEFAULT '{}',
    interval_ms bigint NOT NULL CHECK (interval_ms > 0),
    next_tick   timestamptz NOT NULL,
    last_tick   timestamptz
);
