-- Follow-ups: what `followup run` does with the app's rows (docs/app-contract.md).
--
-- A manager or bot message in a support chat enqueues one `followup.offline_check` job per chat
-- (a unique job: many messages, one check). The check reads the customer's latest `activity`:
-- offline (left, tab hidden, or silent for the channel's `offline_timeout`) with unseen answers
-- → a `follow_ups` row and its dispatch job; still online → the job snoozes until the timeout
-- would pass. A `left`/`tab_hidden` row pulls a waiting check forward. Nothing scans customers.

-- One notification episode of a chat: the unseen answers (first..last message id) it carries,
-- and how it ended. At most one open (pending or awaiting its push acknowledgement) per chat.
CREATE TABLE follow_ups (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id       bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    chat_id          bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    customer_id      bigint NOT NULL,
    -- pending: decided, going out; awaiting_push_ack: pushed, waiting for a push_receipts row;
    -- notified: text/email went out (see deliveries); acknowledged: the push was received;
    -- cancelled: the customer came back or read the chat first, or nothing could be sent.
    status           text NOT NULL DEFAULT 'pending' CONSTRAINT follow_ups_status_known
                     CHECK (status IN ('pending', 'awaiting_push_ack', 'notified', 'acknowledged', 'cancelled')),
    -- Why it ended so, in words (e.g. 'customer came back before it was sent').
    reason           text,
    first_message_id bigint NOT NULL,
    last_message_id  bigint NOT NULL,
    message_count    integer NOT NULL CHECK (message_count > 0),
    -- When and why the customer counted as offline.
    offline_since    timestamptz NOT NULL,
    offline_reason   text NOT NULL,
    push_deadline    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT follow_ups_messages_ordered CHECK (first_message_id <= last_message_id)
);
CREATE UNIQUE INDEX follow_ups_one_open_per_chat ON follow_ups (chat_id) WHERE status IN ('pending', 'awaiting_push_ack');
CREATE INDEX follow_ups_chat_idx ON follow_ups (chat_id, id);
CREATE INDEX follow_ups_channel_created_idx ON follow_ups (channel_id, created_at DESC);

ALTER TABLE push_receipts ADD CONSTRAINT push_receipts_follow_up_known
    FOREIGN KEY (follow_up_id) REFERENCES follow_ups (id) ON DELETE CASCADE;

-- Every attempt on every route: the answer to "were my texts sent, and if not, why?".
-- A text is a `messenger` row, or an `sms`/`lms` row, or a messenger row that failed plus the
-- `sms`/`lms` row that `replaces` it. Prices are micro-USD; the wallet holds `price_micros` while
-- the attempt is `sending`, captures it when sent (`cost_micros`), releases it when it failed.
CREATE TABLE deliveries (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    follow_up_id        bigint REFERENCES follow_ups (id) ON DELETE SET NULL,
    channel_id          bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    chat_id             bigint,
    customer_id         bigint,
    route               text NOT NULL CONSTRAINT deliveries_route_known
                        CHECK (route IN ('push', 'messenger', 'sms', 'lms', 'email')),
    -- queued → sending → sent (→ delivered), or failed / excluded; unknown: a crash left the
    -- outcome unknowable (the provider could not tell), so it was not sent again.
    status              text NOT NULL DEFAULT 'queued' CONSTRAINT deliveries_status_known
                        CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'excluded', 'unknown')),
    reason              text,
    -- The messenger delivery this SMS/LMS replaced (messenger first, then XMS: one of the two).
    replaces            bigint REFERENCES deliveries (id),
    device_id           bigint,
    -- Phone number, email address or device token this went to.
    recipient           text,
    subject             text,
    body                text,
    provider_message_id text,
    provider_code       text,
    segments            integer NOT NULL DEFAULT 0 CHECK (segments >= 0),
    country             text,
    price_micros        bigint NOT NULL DEFAULT 0 CHECK (price_micros >= 0),
    cost_micros         bigint NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    -- Send attempts (job runs that reached the provider call).
    attempts            integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sending_at          timestamptz,
    sent_at             timestamptz,
    delivered_at        timestamptz,
    finished_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- One row per follow-up, route and device: re-running a planning step never doubles a delivery.
CREATE UNIQUE INDEX deliveries_one_per_route ON deliveries (follow_up_id, route, coalesce(device_id, 0))
    WHERE follow_up_id IS NOT NULL;
CREATE INDEX deliveries_channel_created_idx ON deliveries (channel_id, created_at DESC);
CREATE INDEX deliveries_unsettled_idx ON deliveries (status) WHERE status IN ('queued', 'sending', 'unknown');

-- The delivery log for people: one row per attempt, newest first when ordered by created_at.
--   SELECT route, status, why, sent_at FROM delivery_report WHERE channel_id = 1 ORDER BY created_at DESC;
CREATE VIEW delivery_report AS
SELECT d.id AS delivery_id,
       d.channel_id,
       ch.name AS channel_name,
       d.follow_up_id,
       d.chat_id,
       d.customer_id,
       CASE d.route WHEN 'push' THEN 'push' WHEN 'email' THEN 'email' ELSE 'text' END AS kind,
       d.route,
       d.status,
       coalesce(d.reason, CASE d.status
           WHEN 'queued' THEN 'waiting to be sent'
           WHEN 'sending' THEN 'being sent now'
           WHEN 'sent' THEN 'accepted by the provider'
           WHEN 'delivered' THEN 'delivered to the recipient'
           WHEN 'unknown' THEN 'outcome unknown after a crash; not sent again'
           ELSE d.status END) AS why,
       r.id AS replaced_by,
       r.route AS replaced_by_route,
       r.status AS replaced_by_status,
       d.provider_message_id,
       d.segments,
       d.country,
       d.price_micros,
       d.cost_micros,
       round(d.cost_micros / 1000000.0, 4) AS cost_usd,
       d.created_at,
       d.sent_at,
       d.delivered_at,
       d.finished_at
FROM deliveries d
JOIN channels ch ON ch.id = d.channel_id
LEFT JOIN deliveries r ON r.replaces = d.id;

COMMENT ON VIEW delivery_report IS
    'Every follow-up delivery attempt with its status and, in words, why (see docs/app-contract.md).';

-- A manager or bot message in a support chat: one offline check per chat (unique job), due now.
-- Statement-level, so a bulk insert enqueues once per chat.
CREATE FUNCTION followups_on_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM jobs_enqueue('followup.offline_check', jsonb_build_object('chat_id', c.id), 'default', now(),
                         2::smallint, 20, 'offline_check:' || c.id)
    FROM (SELECT DISTINCT chat_id FROM new_messages WHERE sender <> 'customer') m
    JOIN chats c ON c.id = m.chat_id AND c.kind = 'support';
    RETURN NULL;
END $$;

CREATE TRIGGER messages_followups AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION followups_on_messages();

-- The customer left or hid the tab: offline at once, so a check waiting for the timeout runs now.
-- The WHEN clause keeps heartbeats and page views free of any trigger work (the hot path).
-- The advisory lock (per customer, the offline check takes it too) orders this with a check that
-- is deciding right now: either the check sees this row, or this sees the check's next job.
CREATE FUNCTION followups_on_away() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1718185301, (NEW.customer_id % 2147483647)::int);
    WITH due AS (
        SELECT j.id FROM chats c
        JOIN jobs j ON j.unique_key = 'offline_check:' || c.id AND j.state = 'available'
        WHERE c.customer_id = NEW.customer_id AND j.run_at > now()
        FOR UPDATE OF j SKIP LOCKED
    )
    UPDATE jobs SET run_at = now() FROM due WHERE jobs.id = due.id;
    IF FOUND THEN
        PERFORM pg_notify('jobs', 'default');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER activity_away AFTER INSERT ON activity
    FOR EACH ROW WHEN (NEW.kind IN ('left', 'tab_hidden')) EXECUTE FUNCTION followups_on_away();

-- A push receipt ends the wait for it: the follow-up's deadline job runs now.
CREATE FUNCTION followups_on_push_receipt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET run_at = now()
    WHERE unique_key = 'push_timeout:' || NEW.follow_up_id AND state = 'available' AND run_at > now();
    IF FOUND THEN
        PERFORM pg_notify('jobs', queue) FROM jobs WHERE unique_key = 'push_timeout:' || NEW.follow_up_id AND state = 'available';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER push_receipts_followups AFTER INSERT ON push_receipts
    FOR EACH ROW EXECUTE FUNCTION followups_on_push_receipt();
