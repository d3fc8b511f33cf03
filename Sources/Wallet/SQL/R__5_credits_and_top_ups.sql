-- The monthly credit and auto-charge top-ups (repeatable): the poller's periodic and top-up jobs
-- call these.

-- Monthly credit: promotional credit to every paid-plan channel once per calendar month (UTC).

-- Grants `p_amount` to the channel for the month containing `p_month`, once: returns the
-- transfer id, or NULL when that month was already granted (by anyone, with any amount).
-- Raises WL012 for a month that has not begun (UTC) or a channel not on the paid plan: the
-- poller may grant what is due, never credit in advance or to a free channel.
CREATE OR REPLACE FUNCTION wallet.grant_monthly_credit(p_channel bigint, p_month date, p_amount bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    first_day date := date_trunc('month', p_month)::date;
    w record;
    posted wallet.posted;
BEGIN
    IF first_day > (now() AT TIME ZONE 'UTC')::date THEN
        RAISE EXCEPTION 'the monthly credit for % is not due yet', to_char(first_day, 'YYYY-MM') USING ERRCODE = 'WL012';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.channels c WHERE c.id = p_channel AND c.plan = 'paid') THEN
        RAISE EXCEPTION 'channel % is not on the paid plan', p_channel USING ERRCODE = 'WL012', DETAIL = p_channel::text;
    END IF;
    SELECT * INTO w FROM wallet.lock_wallet(p_channel);
    IF EXISTS (SELECT 1 FROM wallet.monthly_credits m WHERE m.channel_id = p_channel AND m.month = first_day) THEN
        RETURN NULL;
    END IF;
    posted := wallet.post('monthly_credit:' || p_channel || ':' || to_char(first_day, 'YYYY-MM'), 'monthly_credit',
                          p_channel, 'monthly SMS credit for ' || to_char(first_day, 'YYYY-MM'), 'system',
                          ARRAY[wallet.system_account('promotional_expense'), w.promotional_id], ARRAY[-p_amount, p_amount]);
    INSERT INTO wallet.monthly_credits (channel_id, month, amount_micros, transfer_id)
    VALUES (p_channel, first_day, p_amount, posted.id);
    RETURN posted.id;
END $$;

-- A channel that becomes paid (inserted as paid, or its plan changed to paid) gets this month's
-- credit at once, not at the next hourly run of the monthly-credit job: the trigger enqueues that
-- job for this channel alone, due now and urgent, so a running poller is woken (NOTIFY at commit)
-- and grants it within moments. The month is the one the plan changed in (`tick`).
-- "Once per month" stays the grant's own: wallet.grant_monthly_credit checks and records
-- (channel, month) under the wallet's lock. Flipping free → paid → free → paid enqueues at most
-- one pending job (the unique key) and, once the month is granted, none.
CREATE OR REPLACE FUNCTION wallet.monthly_credit_on_paid() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM wallet.monthly_credits m
                   WHERE m.channel_id = NEW.id AND m.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date) THEN
        PERFORM public.jobs_enqueue('wallet.monthly_credit', jsonb_build_object('channel_id', NEW.id, 'tick', now()),
                                    'default', now(), 1::smallint, 20, 'wallet.monthly_credit:' || NEW.id::text);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER channels_became_paid AFTER UPDATE OF plan ON public.channels
    FOR EACH ROW WHEN (NEW.plan = 'paid' AND OLD.plan IS DISTINCT FROM 'paid')
    EXECUTE FUNCTION wallet.monthly_credit_on_paid();
CREATE OR REPLACE TRIGGER channels_inserted_paid AFTER INSERT ON public.channels
    FOR EACH ROW WHEN (NEW.plan = 'paid')
    EXECUTE FUNCTION wallet.monthly_credit_on_paid();

-- Grants the month's credit to up to `p_limit` paid-plan channels that do not have it yet.
-- Returns how many it granted; call again until it returns 0.
CREATE OR REPLACE FUNCTION wallet.grant_monthly_credits(p_month date, p_amount bigint, p_limit integer DEFAULT 200) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    first_day date := date_trunc('month', p_month)::date;
    channel bigint;
    granted integer := 0;
BEGIN
    FOR channel IN
        SELECT c.id FROM public.channels c
        WHERE c.plan = 'paid'
          AND NOT EXISTS (SELECT 1 FROM wallet.monthly_credits m WHERE m.channel_id = c.id AND m.month = first_day)
        ORDER BY c.id LIMIT p_limit
    LOOP
        IF wallet.grant_monthly_credit(channel, first_day, p_amount) IS NOT NULL THEN
            granted := granted + 1;
        END IF;
    END LOOP;
    RETURN granted;
END $$;

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Top-up processing (the wallet.top_up job). Three steps around the payment provider's call:
--   top_up_begin      (before the call) opens or reuses the attempt, counts the call;
--   top_up_succeeded  (after) credits the wallet — in the transaction that completes the job;
--   top_up_declined / top_up_failed  (after) record why and back off.

-- Returns what to charge. `reconcile` is true when this attempt's key may already have reached
-- the provider (an earlier call's answer was never heard): look it up before calling again.
-- `state` other than 'charging' means there is nothing to do.
CREATE OR REPLACE FUNCTION wallet.top_up_begin(p_top_up bigint,
    OUT state text, OUT attempt_id uuid, OUT reconcile boolean, OUT amount_micros bigint,
    OUT payment_customer text, OUT channel_id bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t wallet.top_ups;
    a wallet.top_up_attempts;
BEGIN
    SELECT * INTO t FROM wallet.top_ups x WHERE x.id = p_top_up FOR UPDATE;
    IF NOT FOUND THEN
        state := 'missing';
        RETURN;
    END IF;
    state := t.state;
    amount_micros := t.amount_micros;
    channel_id := t.channel_id;
    IF t.state NOT IN ('pending', 'charging') THEN RETURN; END IF;
    SELECT r.payment_customer INTO payment_customer FROM wallet.auto_charge r WHERE r.channel_id = t.channel_id;
    SELECT * INTO a FROM wallet.top_up_attempts x WHERE x.top_up_id = t.id AND x.state = 'started';
    IF NOT FOUND THEN
        INSERT INTO wallet.top_up_attempts (top_up_id, channel_id) VALUES (t.id, t.channel_id) RETURNING * INTO a;
    END IF;
    reconcile := a.calls > 0;
    attempt_id := a.id;
    UPDATE wallet.top_up_attempts x SET calls = x.calls + 1 WHERE x.id = a.id;
    UPDATE wallet.top_ups x SET state = 'charging' WHERE x.id = t.id;
    state := 'charging';
END $$;

-- The provider charged: credit the wallet (top_up_clearing → paid) once, whoever calls twice.
CREATE OR REPLACE FUNCTION wallet.top_up_succeeded(p_attempt uuid, p_payment_id text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a wallet.top_up_attempts;
    t wallet.top_ups;
    w record;
    posted wallet.posted;
BEGIN
    SELECT * INTO a FROM wallet.top_up_attempts x WHERE x.id = p_attempt;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no top-up attempt %', p_attempt USING ERRCODE = 'WL008';
    END IF;
    SELECT * INTO t FROM wallet.top_ups x WHERE x.id = a.top_up_id FOR UPDATE;
    IF t.state = 'succeeded' THEN RETURN t.transfer_id; END IF;
    SELECT * INTO w FROM wallet.lock_wallet(t.channel_id);
    posted := wallet.post('top_up:' || t.id, 'top_up', t.channel_id,
                          'auto-charge top-up (payment ' || coalesce(p_payment_id, 'unknown') || ')', 'system',
                          ARRAY[wallet.system_account('top_up_clearing'), w.paid_id], ARRAY[-t.amount_micros, t.amount_micros],
                          p_top_up => t.id);
    UPDATE wallet.top_up_attempts x SET state = 'succeeded', provider_payment_id = p_payment_id, finished_at = now()
    WHERE x.id = a.id;
    UPDATE wallet.top_ups x SET state = 'succeeded', transfer_id = posted.id, failure = NULL, finished_at = now()
    WHERE x.id = t.id;
    UPDATE wallet.auto_charge r SET consecutive_declines = 0, retry_after = NULL WHERE r.channel_id = t.channel_id;
    RETURN posted.id;
END $$;

-- The provider declined (or refused for good): record why, and hold off new top-ups for
-- `p_backoff` × 2^(consecutive declines − 1), capped at `p_max_backoff`.
CREATE OR REPLACE FUNCTION wallet.top_up_declined(p_attempt uuid, p_payment_id text, p_reason text, p_final_state text,
                                       p_backoff interval, p_max_backoff interval) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a wallet.top_up_attempts;
    t wallet.top_ups;
    declines integer;
BEGIN
    IF p_final_state NOT IN ('declined', 'failed') THEN
        RAISE EXCEPTION 'a top-up ends declined or failed, not %', p_final_state USING ERRCODE = 'WL008';
    END IF;
    SELECT * INTO a FROM wallet.top_up_attempts x WHERE x.id = p_attempt;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no top-up attempt %', p_attempt USING ERRCODE = 'WL008';
    END IF;
    SELECT * INTO t FROM wallet.top_ups x WHERE x.id = a.top_up_id FOR UPDATE;
    IF t.state NOT IN ('pending', 'charging') THEN RETURN; END IF;
    UPDATE wallet.top_up_attempts x SET state = p_final_state, provider_payment_id = p_payment_id,
        failure = p_reason, finished_at = now()
    WHERE x.id = a.id;
    UPDATE wallet.top_ups x SET state = p_final_state, failure = p_reason, finished_at = now() WHERE x.id = t.id;
    UPDATE wallet.auto_charge r SET consecutive_declines = r.consecutive_declines + 1
    WHERE r.channel_id = t.channel_id
    RETURNING r.consecutive_declines INTO declines;
    UPDATE wallet.auto_charge r
    SET retry_after = now() + least(p_backoff * power(2, least(coalesce(declines, 1) - 1, 20)), p_max_backoff)
    WHERE r.channel_id = t.channel_id;
END $$;
