-- Who may do what (repeatable: applied after every other script, whenever any changes).
-- docs/security.md is the same table in words. Every object is owned by followup_owner, which
-- nothing runs as day to day. The group roles below are NOLOGIN: real logins are granted one.
--
--   followup_poller    `followup run` / `serve`: the queue, reading the app's rows, follow-ups
--                      and deliveries; money only through the wallet's functions
--   followup_app       the chat app: its own rows (the contract tables), delivery_report
--   followup_operator  a person at `followup wallet` / `followup jobs`: credits, adjustments,
--                      reversals, prices, auto-charge, retries
--   followup_finance   finance: the `finance` views, nothing else
--
-- Tables grant nothing to PUBLIC by default; functions do (EXECUTE), so that is revoked first.

REVOKE ALL ON ALL TABLES IN SCHEMA public, wallet, finance FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public, wallet, finance FROM PUBLIC;
REVOKE ALL ON SCHEMA wallet, finance FROM PUBLIC;

-- ── The poller ───────────────────────────────────────────────────────────────────────────────
GRANT USAGE ON SCHEMA wallet TO followup_poller;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.jobs, public.job_schedules TO followup_poller;
-- A completion writes the job's history; the partitions are made and dropped by the two functions.
GRANT SELECT, INSERT ON public.job_history TO followup_poller;
GRANT EXECUTE ON FUNCTION public.jobs_enqueue(text, jsonb, text, timestamptz, smallint, integer, text),
                          public.jobs_lease_lost(bigint, integer),
                          public.job_history_create_partition(timestamptz, timestamptz),
                          public.job_history_drop_partitions(timestamptz) TO followup_poller;
GRANT SELECT ON public.channels, public.customers, public.customer_devices, public.chats, public.messages,
                public.chat_reads, public.activity, public.push_receipts TO followup_poller;
GRANT SELECT, INSERT, UPDATE ON public.follow_ups, public.deliveries TO followup_poller;
-- Locking a chat row (FOR UPDATE) needs UPDATE on some column: this one, which nothing reads.
GRANT UPDATE (followup_lock_column) ON public.chats TO followup_poller;
GRANT SELECT ON public.delivery_report, public.schema_migrations, public.schema_repeatables TO followup_poller;
-- `followup serve` and `mail-in` (docs/webhooks.md): a customer's reply becomes a message in the
-- chat; opt-outs, unsubscribes and hard bounces are suppressions; inbound events are remembered
-- so a provider's retry changes nothing.
GRANT INSERT ON public.messages TO followup_poller;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.suppressions TO followup_poller;
GRANT SELECT, INSERT ON public.inbound_events TO followup_poller;
-- Custom sender domains: the poller makes keys and records verification (docs/email-domains.md).
GRANT SELECT, INSERT, UPDATE, DELETE ON public.channel_email_domains TO followup_poller;
GRANT UPDATE (email_domain, email_domain_verified) ON public.channels TO followup_poller;
-- The wallet: read it (statements, top-up state); write it only through these.
GRANT SELECT ON ALL TABLES IN SCHEMA wallet TO followup_poller;
GRANT EXECUTE ON FUNCTION
    wallet.price(text, text, integer, timestamptz),
    wallet.find_price(text, text, integer, timestamptz),
    wallet.list_price(text, text, integer, timestamptz),
    wallet.hold(bigint, bigint, bigint, text),
    wallet.capture(bigint),
    wallet.release(bigint),
    wallet.balance(bigint),
    wallet.grant_monthly_credit(bigint, date, bigint),
    wallet.grant_monthly_credits(date, bigint, integer),
    wallet.top_up_begin(bigint),
    wallet.top_up_succeeded(uuid, text),
    wallet.top_up_declined(uuid, text, text, text, interval, interval)
TO followup_poller;

-- Quiet hours and time zones (pure functions of their arguments; R__follow_up_policy.sql).
GRANT EXECUTE ON FUNCTION
    public.followup_is_time_zone(text),
    public.followup_phone_time_zone(text),
    public.followup_time_zone(text, text, text),
    public.followup_quiet_hours_end(timestamptz, text, time, time)
TO followup_poller, followup_app, followup_operator;

-- Tables that stay small (docs/scale.md): the periodic jobs' partition upkeep and pruning.
GRANT EXECUTE ON FUNCTION
    public.activity_partitions_create(timestamptz, integer, interval),
    public.activity_partitions_detach(timestamptz, interval),
    public.activity_partitions_drop_detached(),
    public.followup_prune(timestamptz, interval, interval, interval, integer)
TO followup_poller;

-- ── The app ──────────────────────────────────────────────────────────────────────────────────
-- (USAGE on schema public is PUBLIC's by default.)
GRANT SELECT, INSERT, UPDATE, DELETE ON public.channels, public.customers, public.customer_devices, public.chats
    TO followup_app;
GRANT SELECT, INSERT ON public.messages, public.chat_reads, public.activity, public.push_receipts TO followup_app;
GRANT SELECT ON public.delivery_report TO followup_app;
-- Who opted out of the channel's texts and emails; deleting a row is the app's opt-in.
GRANT SELECT, DELETE ON public.suppressions TO followup_app;
-- A custom sender domain: the app asks for one, and reads what to publish (never the key).
GRANT INSERT (channel_id, domain, selector) ON public.channel_email_domains TO followup_app;
GRANT SELECT ON public.email_domain_records TO followup_app;

-- ── Operators ────────────────────────────────────────────────────────────────────────────────
GRANT USAGE ON SCHEMA wallet, finance TO followup_operator;
GRANT SELECT ON public.channels, public.customers, public.chats, public.follow_ups, public.deliveries,
                public.delivery_report, public.jobs, public.job_history, public.job_schedules TO followup_operator;
-- Custom sender domains (followup channel domain add|verify|use|remove).
GRANT SELECT, INSERT, UPDATE, DELETE ON public.channel_email_domains TO followup_operator;
GRANT UPDATE (email_domain, email_domain_verified) ON public.channels TO followup_operator;
-- A channel's follow-up settings (followup channel set): toggles, waits, caps, quiet hours.
GRANT UPDATE (phone_enabled, email_enabled, offline_timeout, push_ack_timeout, follow_up_cooldown,
              max_texts_per_chat_per_day, max_emails_per_chat_per_day, quiet_hours_start, quiet_hours_end,
              quiet_hours_hold_email, quiet_hours_hold_push, time_zone) ON public.channels TO followup_operator;
GRANT SELECT ON public.email_domain_records TO followup_operator;
-- Retry or cancel a job (followup jobs retry|cancel): a state change, never an insert.
GRANT UPDATE ON public.jobs TO followup_operator;
GRANT SELECT ON ALL TABLES IN SCHEMA wallet TO followup_operator;
GRANT INSERT ON wallet.prices TO followup_operator;
GRANT INSERT, UPDATE ON wallet.auto_charge TO followup_operator;
GRANT EXECUTE ON FUNCTION
    wallet.price(text, text, integer, timestamptz),
    wallet.balance(bigint),
    wallet.credit(bigint, bigint, text, text, text, text),
    wallet.adjust(bigint, bigint, text, text, text),
    wallet.reverse(bigint, text, text)
TO followup_operator;
GRANT SELECT ON ALL TABLES IN SCHEMA finance TO followup_operator;
GRANT EXECUTE ON FUNCTION finance.usd(bigint) TO followup_operator;

-- ── Finance ──────────────────────────────────────────────────────────────────────────────────
GRANT USAGE ON SCHEMA finance TO followup_finance;
GRANT SELECT ON ALL TABLES IN SCHEMA finance TO followup_finance;
GRANT EXECUTE ON FUNCTION finance.usd(bigint) TO followup_finance;
