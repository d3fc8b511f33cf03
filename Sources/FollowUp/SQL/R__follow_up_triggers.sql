-- What the app's rows set in motion (repeatable: re-applied whenever this file changes).
--
-- The app's login (followup_app) may write its rows but not the queue: these trigger functions
-- are SECURITY DEFINER (they run as the schema's owner), so each pins
-- `search_path = pg_catalog, pg_temp` and names every object with its schema — nothing here
-- resolves through `public`, where a planted function or operator could run as the owner.

-- A manager or bot message in a support chat: one offline check per chat (unique job), due now.
-- Statement-level, so a bulk insert enqueues once per chat.
CREATE OR REPLACE FUNCTION public.followups_on_messages() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM public.jobs_enqueue('followup.offline_check', pg_catalog.jsonb_build_object('chat_id', c.id), 'default',
                                pg_catalog.now(), 2::smallint, 20, 'offline_check:' || c.id::text)
    FROM (SELECT DISTINCT n.chat_id FROM new_messages n WHERE n.sender <> 'customer') m
    JOIN public.chats c ON c.id = m.chat_id AND c.kind = 'support';
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER messages_followups AFTER INSERT ON public.messages
    REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION public.followups_on_messages();

-- The customer left or hid the tab: offline at once, so a check waiting for the timeout runs now.
-- The WHEN clause keeps heartbeats and page views free of any trigger work (the hot path); the
-- kinds are one array constant (Postgres rebuilds the clause for every statement).
-- The advisory lock (per customer, the offline check takes it too) orders this with a check that
-- is deciding right now: either the check sees this row, or this sees the check's next job.
CREATE OR REPLACE FUNCTION public.followups_on_away() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- A customer's newest row kept when its day's partition is dropped (R__activity_partitions.sql) is old news.
    IF pg_catalog.current_setting('followup.activity_carry', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(1718185301, (NEW.customer_id % 2147483647)::int);
    WITH due AS (
        SELECT j.id FROM public.chats c
        JOIN public.jobs j ON j.unique_key = 'offline_check:' || c.id::text AND j.state = 'available'
        WHERE c.customer_id = NEW.customer_id AND j.run_at > pg_catalog.now()
        FOR UPDATE OF j SKIP LOCKED
    )
    UPDATE public.jobs SET run_at = pg_catalog.now() FROM due WHERE public.jobs.id = due.id;
    IF FOUND THEN
        PERFORM pg_catalog.pg_notify('jobs', 'default');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER activity_away AFTER INSERT ON public.activity
    FOR EACH ROW WHEN (NEW.kind = ANY ('{left,tab_hidden}'::text[])) EXECUTE FUNCTION public.followups_on_away();

-- A push receipt is checked before it is stored: it is accepted only when it quotes the token
-- that follow-up's push carried to that device, the follow-up is still waiting for it, and it
-- was not acknowledged already. Anything else is kept as `rejected`, with the reason, and
-- changes nothing: one customer's app cannot silence another customer's follow-up.
CREATE OR REPLACE FUNCTION public.followups_check_push_receipt() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    push record;
BEGIN
    NEW.status := 'rejected';
    SELECT d.device_id, f.status AS follow_up_status INTO push
    FROM public.deliveries d JOIN public.follow_ups f ON f.id = d.follow_up_id
    WHERE d.follow_up_id = NEW.follow_up_id AND d.route = 'push'
      AND d.receipt_token IS NOT NULL AND d.receipt_token = NEW.token;
    IF NOT FOUND THEN
        NEW.reason := 'no push of this follow-up carried this token';
    ELSIF NEW.device_id IS NOT NULL AND NEW.device_id IS DISTINCT FROM push.device_id THEN
        NEW.reason := 'the token belongs to another device';
    ELSIF EXISTS (SELECT 1 FROM public.push_receipts r WHERE r.follow_up_id = NEW.follow_up_id AND r.status = 'accepted') THEN
        NEW.reason := 'already acknowledged';
    ELSIF push.follow_up_status <> 'awaiting_push_ack' THEN
        NEW.reason := 'the follow-up was no longer waiting for an acknowledgement (' || push.follow_up_status || ')';
    ELSE
        NEW.status := 'accepted';
        NEW.reason := NULL;
        NEW.device_id := push.device_id;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER push_receipts_check BEFORE INSERT ON public.push_receipts
    FOR EACH ROW EXECUTE FUNCTION public.followups_check_push_receipt();

-- An accepted receipt ends the wait for it: the follow-up's deadline job runs now.
CREATE OR REPLACE FUNCTION public.followups_on_push_receipt() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE public.jobs SET run_at = pg_catalog.now()
    WHERE unique_key = 'push_timeout:' || NEW.follow_up_id::text AND state = 'available' AND run_at > pg_catalog.now();
    IF FOUND THEN
        PERFORM pg_catalog.pg_notify('jobs', j.queue) FROM public.jobs j
        WHERE j.unique_key = 'push_timeout:' || NEW.follow_up_id::text AND j.state = 'available';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER push_receipts_followups AFTER INSERT ON public.push_receipts
    FOR EACH ROW WHEN (NEW.status = 'accepted') EXECUTE FUNCTION public.followups_on_push_receipt();
