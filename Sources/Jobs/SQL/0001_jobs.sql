-- The job queue (the Jobs module). Postgres is the queue: pollers claim due rows with
-- FOR UPDATE SKIP LOCKED. Anything may enqueue with plain SQL, in its own transaction:
--
--   SELECT jobs_enqueue('followup.offline_check', '{"chat_id": 42}', run_at => now() + interval '270 seconds',
--                       unique_key => 'offline_check:42');
--
-- or INSERT INTO jobs (kind, payload, ...) directly. The job exists iff that transaction commits,
-- and a statement-level trigger wakes the pollers (NOTIFY is delivered at commit). Functions and
-- triggers are in R__jobs.sql (repeatable: applied again whenever its text changes).

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
);

-- The claim: per priority level, due rows in (run_at, id) order. Only 'available' rows are in it,
-- so finished history never slows a claim.
CREATE INDEX jobs_claim_idx ON jobs (queue, priority, run_at, id) WHERE state = 'available';
-- The rescuer: running jobs whose lease ran out.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
-- Unique jobs: concurrent inserts of one key leave one live job; a rolled-back insert leaves none.
CREATE UNIQUE INDEX jobs_unique_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'running');
-- Pruning finished jobs after their retention.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state IN ('completed', 'cancelled', 'dead');

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
