-- Operator settings (docs/configuration.md) and the monthly credit at the moment a channel
-- becomes paid.

-- "Back to the chat" links: a channel without a link base of its own uses the product's
-- FOLLOWUP_CHAT_URL_BASE. The old column default was a placeholder every channel inherited.
ALTER TABLE public.channels
    ALTER COLUMN link_base_url DROP DEFAULT,
    ALTER COLUMN link_base_url DROP NOT NULL;
UPDATE public.channels SET link_base_url = NULL WHERE link_base_url = 'https://chat.example.com';

-- A channel that becomes paid (inserted as paid, or its plan changed to paid) gets this month's
-- credit at once, not at the next hourly run of the monthly-credit job: the trigger enqueues that
-- job for this channel alone, due now and urgent, so a running poller is woken (NOTIFY at commit)
-- and grants it within moments. The month is the one the plan changed in (`tick`).
-- "Once per month" stays the grant's own: wallet.grant_monthly_credit checks and records
-- (channel, month) under the wallet's lock. Flipping free → paid → free → paid enqueues at most
-- one pending job (the unique key) and, once the month is granted, none.
CREATE FUNCTION wallet.monthly_credit_on_paid() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM wallet.monthly_credits m
                   WHERE m.channel_id = NEW.id AND m.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date) THEN
        INSERT INTO public.jobs (kind, payload, queue, run_at, priority, max_attempts, unique_key)
        VALUES ('wallet.monthly_credit', jsonb_build_object('channel_id', NEW.id, 'tick', now()), 'default', now(),
                1::smallint, 20, 'wallet.monthly_credit:' || NEW.id)
        ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'running') DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER channels_became_paid AFTER UPDATE OF plan ON public.channels
    FOR EACH ROW WHEN (NEW.plan = 'paid' AND OLD.plan IS DISTINCT FROM 'paid')
    EXECUTE FUNCTION wallet.monthly_credit_on_paid();
CREATE TRIGGER channels_inserted_paid AFTER INSERT ON public.channels
    FOR EACH ROW WHEN (NEW.plan = 'paid')
    EXECUTE FUNCTION wallet.monthly_credit_on_paid();
