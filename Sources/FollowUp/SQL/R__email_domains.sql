-- Custom sender domains (repeatable): the key request a new row makes, and what to publish.
-- The trigger function runs as the owner (the app may insert a row, not enqueue jobs), so it
-- pins its search path and qualifies every name.

-- A row the app inserted without a key: the poller makes it (`followup.email_domain_keys`).
CREATE OR REPLACE FUNCTION public.email_domains_make_key() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM public.jobs_enqueue('followup.email_domain_keys', pg_catalog.jsonb_build_object('domain_key_id', NEW.id), 'default',
                                pg_catalog.now(), 2::smallint, 10, 'email_domain_keys:' || NEW.id::text);
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER channel_email_domains_make_key AFTER INSERT ON public.channel_email_domains
    FOR EACH ROW WHEN (NEW.public_key IS NULL) EXECUTE FUNCTION public.email_domains_make_key();

-- What to publish in DNS, per key (the app shows this to the company).
DROP VIEW IF EXISTS public.email_domain_records;
CREATE VIEW public.email_domain_records AS
SELECT k.id, k.channel_id, k.domain, k.selector, k.active, k.status, k.reason, k.checked_at, k.verified_at,
       k.selector || '._domainkey.' || k.domain AS dkim_name,
       CASE WHEN k.public_key IS NOT NULL THEN 'v=DKIM1; k=rsa; p=' || k.public_key END AS dkim_value,
       k.domain AS spf_name,
       k.spf_include AS spf_mechanism,
       CASE WHEN k.spf_include IS NOT NULL THEN 'v=spf1 ' || k.spf_include || ' ~all' END AS spf_value_if_none_yet,
       '_dmarc.' || k.domain AS dmarc_name,
       'v=DMARC1; p=none; adkim=r; aspf=r' AS dmarc_value_to_start
FROM public.channel_email_domains k;

