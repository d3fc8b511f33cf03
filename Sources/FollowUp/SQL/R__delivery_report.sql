-- The delivery log (repeatable: re-applied whenever this file changes).

-- The delivery log for people: one row per attempt, newest first when ordered by created_at.
--   SELECT route, status, why, sent_at FROM delivery_report WHERE channel_id = 1 ORDER BY created_at DESC;
DROP VIEW IF EXISTS public.delivery_report;
CREATE VIEW public.delivery_report AS
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
           WHEN 'sent' THEN 'accepted by the provider; no delivery receipt yet'
           WHEN 'delivered' THEN 'delivered to the recipient'
           WHEN 'undelivered' THEN 'the carrier could not deliver it'
           WHEN 'bounced' THEN 'the recipient''s mail server returned it'
           WHEN 'suppressed' THEN 'not sent: the recipient opted out'
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
       d.finished_at,
       d.from_domain,
       CASE WHEN d.from_domain IS NOT NULL THEN d.dkim_selector IS NOT NULL END AS dkim_signed,
       d.dkim_selector,
       d.sender_note,
       d.provider_code,
       d.receipt_status,
       d.receipt_at,
       -- Quiet hours: a queued delivery waits until then (its `why` says so, in the customer's zone).
       d.held_until
FROM public.deliveries d
JOIN public.channels ch ON ch.id = d.channel_id
LEFT JOIN public.deliveries r ON r.replaces = d.id;

COMMENT ON VIEW public.delivery_report IS
    'Every follow-up delivery attempt with its status, receipt and, in words, why (see docs/app-contract.md, docs/webhooks.md).';

