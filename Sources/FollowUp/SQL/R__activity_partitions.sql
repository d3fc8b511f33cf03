-- `activity` by day (repeatable; the table is in 0001_app_contract.sql, the why in docs/scale.md).
--
-- The periodic job `followup.activity_partitions` calls these three in turn, each its own
-- transaction, with the time it runs for (tests pass any time: the clock is an argument):
--   1. activity_partitions_create(now, ahead_days, retention): a partition for every day from
--      the oldest day still kept to `ahead_days` after today, moving in any rows the default
--      partition took for that day;
--   2. activity_partitions_detach(now, retention): detaches the days wholly older than the
--      retention (a moment's ACCESS EXCLUSIVE on `activity`; nothing is scanned);
--   3. activity_partitions_drop_detached(): for each detached day, keeps each customer's newest
--      row when nothing newer exists (in `activity_default`: only the newest row per customer is
--      ever read), then drops it. No lock on `activity` but a row insert.
-- Partitions are named activity_pYYYYMMDD and cover [day 00:00 UTC, next day 00:00 UTC).
-- Each call gives up after 2 s waiting for a lock (and fails; the job retries), so DDL never
-- queues the app's inserts behind a long query.
--
-- SECURITY DEFINER: the partitions belong to the schema's owner, like every table; the poller
-- may only call these.

CREATE OR REPLACE FUNCTION public.activity_partitions_create(p_now timestamptz, p_ahead_days integer, p_retention interval)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET lock_timeout = '2s' AS $$
DECLARE
    today date := (p_now AT TIME ZONE 'UTC')::date;
    day date;
    last_day date;
    part text;
    lo timestamptz;
    hi timestamptz;
BEGIN
    IF p_ahead_days IS NULL OR p_ahead_days < 1 OR p_retention IS NULL OR p_retention < interval '1 day' THEN
        RAISE EXCEPTION 'activity partitions: ahead must be at least 1 day and the retention at least 1 day'
            USING ERRCODE = '22023';
    END IF;
    day := ((p_now - p_retention) AT TIME ZONE 'UTC')::date;
    last_day := today + p_ahead_days;
    WHILE day <= last_day LOOP
        part := 'activity_p' || pg_catalog.to_char(day, 'YYYYMMDD');
        IF pg_catalog.to_regclass('public.' || part) IS NULL THEN
            lo := day::timestamp AT TIME ZONE 'UTC';
            hi := (day + 1)::timestamp AT TIME ZONE 'UTC';
            -- Made beside the table and attached: ATTACH takes only SHARE UPDATE EXCLUSIVE on
            -- `activity` (inserts and reads go on), where CREATE ... PARTITION OF would block both.
            EXECUTE pg_catalog.format('CREATE TABLE public.%I (LIKE public.activity INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            -- Rows the default partition took while the day had no partition move in (the lock
            -- keeps another from arriving there before the partition is attached).
            LOCK TABLE public.activity_default IN SHARE ROW EXCLUSIVE MODE;
            EXECUTE pg_catalog.format(
                'WITH moved AS (DELETE FROM public.activity_default WHERE at >= %L AND at < %L '
                'RETURNING customer_id, kind, at, channel_id) '
                'INSERT INTO public.%I (customer_id, kind, at, channel_id) SELECT customer_id, kind, at, channel_id FROM moved',
                lo, hi, part);
            EXECUTE pg_catalog.format('ALTER TABLE public.activity ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
                                      part, lo, hi);
            RETURN NEXT part;
        END IF;
        day := day + 1;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION public.activity_partitions_detach(p_now timestamptz, p_retention interval)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET lock_timeout = '2s' AS $$
DECLARE
    part text;
BEGIN
    IF p_retention IS NULL OR p_retention < interval '1 day' THEN
        RAISE EXCEPTION 'activity partitions: the retention must be at least 1 day' USING ERRCODE = '22023';
    END IF;
    FOR part IN
        SELECT c.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.activity'::pg_catalog.regclass AND c.relname ~ '^activity_p[0-9]{8}$'
          AND ((pg_catalog.to_date(pg_catalog.substr(c.relname, 11), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC')
              <= p_now - p_retention
        ORDER BY c.relname
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE public.activity DETACH PARTITION public.%I', part);
        RETURN NEXT part;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION public.activity_partitions_drop_detached()
RETURNS TABLE (dropped_partition text, carried bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET lock_timeout = '2s' AS $$
DECLARE
    part text;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT c.relispartition AND c.relname ~ '^activity_p[0-9]{8}$'
        -- Newest day first: an older day's rows then find the newer row already kept.
        ORDER BY c.relname DESC
    LOOP
        -- The away trigger (R__follow_up_triggers.sql) has nothing to wake for a kept old row.
        PERFORM pg_catalog.set_config('followup.activity_carry', 'on', true);
        EXECUTE pg_catalog.format(
            'INSERT INTO public.activity_default (customer_id, kind, at, channel_id) '
            'SELECT o.customer_id, o.kind, o.at, o.channel_id '
            'FROM (SELECT DISTINCT ON (customer_id) customer_id, kind, at, channel_id FROM public.%I '
            '      ORDER BY customer_id, at DESC) o '
            'WHERE NOT EXISTS (SELECT 1 FROM public.activity a WHERE a.customer_id = o.customer_id AND a.at >= o.at)',
            part);
        GET DIAGNOSTICS carried = ROW_COUNT;
        PERFORM pg_catalog.set_config('followup.activity_carry', '', true);
        EXECUTE pg_catalog.format('DROP TABLE public.%I', part);
        dropped_partition := part;
        dropped := dropped + 1;
        RETURN NEXT;
    END LOOP;
    IF dropped > 0 THEN
        -- One row per customer in the default partition: a kept row with a newer one anywhere goes.
        DELETE FROM public.activity_default d
        WHERE EXISTS (SELECT 1 FROM public.activity a WHERE a.customer_id = d.customer_id AND a.at > d.at);
    END IF;
END $$;

-- At migrate time: the days around now, so the app's first rows land in their own partition.
SELECT public.activity_partitions_create(pg_catalog.now(), 3, interval '7 days');
