-- Follow-ups that respect the customer (issue 14): one follow-up per absence (a cooldown that
-- merges later answers), a cap per chat and day, quiet hours in the customer's time zone, and the
-- customer's own preference. The rules are in README ("The rules, as built") and
-- docs/app-contract.md; the functions that decide quiet hours and time zones are in
-- R__follow_up_policy.sql.

ALTER TABLE channels
    -- After a follow-up went out, and while the customer has not come back, later answers wait
    -- this long after it and then go out together as one follow-up. 0: each goes out at once.
    ADD COLUMN follow_up_cooldown interval NOT NULL DEFAULT '10 minutes'
        CONSTRAINT channels_follow_up_cooldown_valid CHECK (follow_up_cooldown >= '0' AND follow_up_cooldown <= '7 days'),
    -- At most this many texts / emails per chat in any 24 hours; beyond it a delivery is `capped`
    -- (nothing sent, nothing charged). NULL: no cap.
    ADD COLUMN max_texts_per_chat_per_day integer DEFAULT 3
        CONSTRAINT channels_max_texts_per_chat_per_day_positive CHECK (max_texts_per_chat_per_day BETWEEN 1 AND 1000),
    ADD COLUMN max_emails_per_chat_per_day integer DEFAULT 3
        CONSTRAINT channels_max_emails_per_chat_per_day_positive CHECK (max_emails_per_chat_per_day BETWEEN 1 AND 1000),
    -- Quiet hours, local time of the customer (both NULL: off). Start after end: across midnight
    -- (21:00–08:00). Texts due inside wait until the end; email and push only when the flags say so.
    ADD COLUMN quiet_hours_start time(0),
    ADD COLUMN quiet_hours_end time(0),
    ADD COLUMN quiet_hours_hold_email boolean NOT NULL DEFAULT false,
    ADD COLUMN quiet_hours_hold_push boolean NOT NULL DEFAULT false,
    -- The zone for customers whose own zone is unknown (IANA name, e.g. 'Asia/Seoul').
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
        CONSTRAINT channels_time_zone_format CHECK (time_zone ~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$'),
    ADD CONSTRAINT channels_quiet_hours_complete CHECK ((quiet_hours_start IS NULL) = (quiet_hours_end IS NULL)),
    ADD CONSTRAINT channels_quiet_hours_not_empty CHECK (quiet_hours_start IS DISTINCT FROM quiet_hours_end OR quiet_hours_start IS NULL);

ALTER TABLE customers
    -- The customer's IANA time zone, when the app knows it (e.g. from the browser). NULL: from the
    -- phone number's country where it has one zone, else the channel's `time_zone`.
    ADD COLUMN time_zone text
        CONSTRAINT customers_time_zone_format CHECK (time_zone ~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$'),
    -- What the customer agreed to receive: all, email_only, text_only, none.
    ADD COLUMN follow_up text NOT NULL DEFAULT 'all'
        CONSTRAINT customers_follow_up_known CHECK (follow_up IN ('all', 'email_only', 'text_only', 'none'));

-- A follow-up waiting for the cooldown is `pending` until then; a delivery held for quiet hours
-- is `queued` until then.
ALTER TABLE follow_ups ADD COLUMN not_before timestamptz;
ALTER TABLE deliveries ADD COLUMN held_until timestamptz;

-- `capped`: over the channel's per-chat daily cap; nothing sent, nothing charged.
-- (`capped` is in the deliveries status check of 0002_follow_ups.sql.)

COMMENT ON CONSTRAINT customers_follow_up_known ON customers IS 'follow_up is all, email_only, text_only or none';
COMMENT ON CONSTRAINT customers_time_zone_format ON customers IS 'time_zone must be an IANA name, e.g. Asia/Seoul';
COMMENT ON CONSTRAINT channels_quiet_hours_complete ON channels IS 'quiet_hours_start and quiet_hours_end are set together (or both NULL: off)';
