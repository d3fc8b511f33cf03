-- Quiet hours and time zones (repeatable: re-applied whenever this file changes). The tables'
-- columns are in 0004_follow_up_policy.sql; README "The rules, as built" says what they mean.
--
-- Postgres carries the tz database, so local time is computed here with AT TIME ZONE. Every
-- function takes the moment it decides for as an argument ("now" is the caller's): the same
-- function is called with now() by the poller and with fixed instants by the tests.

-- Whether `tz` is a time zone name Postgres knows (IANA names: 'Asia/Seoul', 'UTC'). AT TIME ZONE
-- also accepts POSIX rules ('XYZ+3', 'Foo/Bar-2'), which always carry an offset in digits: a name
-- with a slash and no digit is simply tried (fast: a zone loads once per session); any other
-- ('Etc/GMT+9', 'Japan') must be listed in the tz database (slow, ~40 ms, but rare).
CREATE OR REPLACE FUNCTION public.followup_is_time_zone(tz text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF tz IS NULL OR tz !~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$' THEN
        RETURN false;
    ELSIF tz IN ('UTC', 'GMT') THEN
        RETURN true;
    ELSIF pg_catalog.strpos(tz, '/') = 0 OR tz ~ '[0-9]' THEN
        RETURN EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names n WHERE n.name = tz);
    END IF;
    PERFORM pg_catalog.now() AT TIME ZONE tz;
    RETURN true;
EXCEPTION WHEN data_exception THEN
    RETURN false;
END $$;

-- The zone of a phone number's country, for the countries that have exactly one zone (the
-- calling codes are prefix-free, so the longest match is the only match). Countries with
-- several zones (+1 US/Canada, +7 Russia/Kazakhstan, +52 Mexico, +55 Brazil, +61 Australia,
-- +62 Indonesia, +34 Spain, +351 Portugal, +64 New Zealand, …) are not listed: NULL.
CREATE OR REPLACE FUNCTION public.followup_phone_time_zone(phone text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT z.tz FROM (VALUES
        ('+82', 'Asia/Seoul'), ('+81', 'Asia/Tokyo'), ('+86', 'Asia/Shanghai'), ('+886', 'Asia/Taipei'),
        ('+852', 'Asia/Hong_Kong'), ('+65', 'Asia/Singapore'), ('+66', 'Asia/Bangkok'), ('+84', 'Asia/Ho_Chi_Minh'),
        ('+63', 'Asia/Manila'), ('+91', 'Asia/Kolkata'), ('+60', 'Asia/Kuala_Lumpur'), ('+972', 'Asia/Jerusalem'),
        ('+971', 'Asia/Dubai'), ('+44', 'Europe/London'), ('+353', 'Europe/Dublin'), ('+33', 'Europe/Paris'),
        ('+49', 'Europe/Berlin'), ('+39', 'Europe/Rome'), ('+31', 'Europe/Amsterdam'), ('+32', 'Europe/Brussels'),
        ('+41', 'Europe/Zurich'), ('+43', 'Europe/Vienna'), ('+46', 'Europe/Stockholm'), ('+47', 'Europe/Oslo'),
        ('+45', 'Europe/Copenhagen'), ('+48', 'Europe/Warsaw'), ('+27', 'Africa/Johannesburg')
    ) AS z(prefix, tz)
    WHERE phone LIKE z.prefix || '%'
    ORDER BY length(z.prefix) DESC
    LIMIT 1
$$;

-- The customer's zone: their own (set by the app), else their phone's country's, else the channel's.
CREATE OR REPLACE FUNCTION public.followup_time_zone(customer_zone text, phone text, channel_zone text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(customer_zone, public.followup_phone_time_zone(phone), channel_zone, 'UTC')
$$;

-- The decision: at instant `moment`, in zone `tz`, is it inside the quiet hours [start, stop)? If so,
-- the instant they end; otherwise NULL (also when quiet hours are off: start or stop NULL).
-- start > stop spans midnight (21:00–08:00). The end is a local wall-clock time: on a day a DST
-- change shifts the clock, it is still 08:00 local, a different number of hours away; a local
-- time the change skips (02:30 on a spring-forward night) is read as the time after the gap.
CREATE OR REPLACE FUNCTION public.followup_quiet_hours_end(moment timestamptz, tz text, quiet_start time, quiet_end time)
RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN quiet_start IS NULL OR quiet_end IS NULL OR quiet_start = quiet_end THEN NULL
        WHEN quiet_start < quiet_end AND l.t >= quiet_start AND l.t < quiet_end THEN (l.d + quiet_end) AT TIME ZONE tz
        WHEN quiet_start > quiet_end AND l.t >= quiet_start THEN (l.d + 1 + quiet_end) AT TIME ZONE tz
        WHEN quiet_start > quiet_end AND l.t < quiet_end THEN (l.d + quiet_end) AT TIME ZONE tz
    END
    FROM (SELECT (moment AT TIME ZONE tz)::time AS t, (moment AT TIME ZONE tz)::date AS d) AS l
$$;

-- customers.time_zone and channels.time_zone must name a zone Postgres knows: checked when
-- written, so a typo is refused at once instead of silently falling back to another zone.
CREATE OR REPLACE FUNCTION public.followup_check_time_zone() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT public.followup_is_time_zone(NEW.time_zone) THEN
        RAISE EXCEPTION 'time_zone is not a known IANA time zone name (e.g. Asia/Seoul, America/New_York, UTC)'
            USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_time_zone_known',
                  TABLE = TG_TABLE_NAME, COLUMN = 'time_zone';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER customers_time_zone_known BEFORE INSERT OR UPDATE OF time_zone ON public.customers
    FOR EACH ROW WHEN (NEW.time_zone IS NOT NULL) EXECUTE FUNCTION public.followup_check_time_zone();
CREATE OR REPLACE TRIGGER channels_time_zone_known BEFORE INSERT OR UPDATE OF time_zone ON public.channels
    FOR EACH ROW WHEN (NEW.time_zone <> 'UTC') EXECUTE FUNCTION public.followup_check_time_zone();
