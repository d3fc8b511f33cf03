-- Two-way follow-ups (`followup serve`, `followup mail-in`; docs/webhooks.md): delivery receipts,
-- opt-outs and bounces, replies back into the chat.
--
-- Everything here is additive: new statuses for deliveries, the receipt a provider reported,
-- one suppression list, one table of inbound events already handled (so a provider's retry
-- changes nothing), and delivery_report redefined with its old columns first and new ones after.

-- Statuses a receipt or an opt-out can give a delivery:
--   delivered    the carrier / provider confirmed it reached the handset (or the inbox)
--   undelivered  the provider accepted it but the carrier could not deliver it (Twilio
--                `undelivered` or `failed` after acceptance; the error code is provider_code)
--   bounced      the receiving mail server returned it (RFC 3464 delivery status notification)
--   suppressed   not sent: the recipient opted out (SMS STOP, unsubscribe link) or hard-bounced
-- NOT VALID, then VALIDATE: the new list is a superset of the old, and validating separately
-- scans the table under a lock that lets writes go on.
ALTER TABLE public.deliveries DROP CONSTRAINT deliveries_status_known;
ALTER TABLE public.deliveries ADD CONSTRAINT deliveries_status_known CHECK (status IN (
    'queued', 'sending', 'sent', 'delivered', 'undelivered', 'bounced', 'suppressed', 'failed', 'excluded', 'unknown')) NOT VALID;
ALTER TABLE public.deliveries VALIDATE CONSTRAINT deliveries_status_known;

-- The last final receipt a provider reported (a status callback, a messenger result, a bounce).
-- Kept apart from `status` so a receipt that arrives while the delivery is still `sending`
-- (the provider answered the callback before our process recorded the send) is not lost and
-- cannot race the send's own bookkeeping: the send applies it when it records `sent`.
ALTER TABLE public.deliveries
    ADD COLUMN receipt_status text CONSTRAINT deliveries_receipt_status_known
        CHECK (receipt_status IN ('delivered', 'undelivered', 'bounced')),
    ADD COLUMN receipt_at timestamptz;
COMMENT ON COLUMN public.deliveries.receipt_status IS
    'the final outcome the provider reported (status callback, messenger result, bounce); first one wins';

-- Who must not be texted or emailed again by a channel, and why. One table for every kind of
-- opt-out: an SMS STOP, an unsubscribe link, a hard bounce. Addresses are stored normalised:
-- phones in E.164 as sent, emails lower-cased. START (or a new opt-in by the app) deletes the row.
CREATE TABLE public.suppressions (
    channel_id    bigint NOT NULL CONSTRAINT suppressions_channel_known REFERENCES public.channels (id) ON DELETE CASCADE,
    address_kind  text NOT NULL CONSTRAINT suppressions_address_kind_known CHECK (address_kind IN ('phone', 'email')),
    address       text NOT NULL CONSTRAINT suppressions_address_present CHECK (length(address) BETWEEN 3 AND 320),
    -- In words, e.g. 'replied STOP by SMS', 'unsubscribed by the email link', 'hard bounce'.
    reason        text NOT NULL,
    -- The provider's code, when one said so (e.g. a DSN status 5.1.1).
    provider_code text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, address_kind, address)
);
COMMENT ON TABLE public.suppressions IS
    'recipients a channel must not text or email (opt-outs, unsubscribes, hard bounces); see docs/webhooks.md';

-- Inbound events already handled, by the provider's id (Twilio MessageSid, a mail's Message-ID):
-- a retried webhook or a mail delivered twice is recognised and changes nothing.
CREATE TABLE public.inbound_events (
    source      text NOT NULL CONSTRAINT inbound_events_source_known CHECK (source IN ('sms', 'email')),
    event_id    text NOT NULL CONSTRAINT inbound_events_event_id_length CHECK (length(event_id) BETWEEN 1 AND 998),
    channel_id  bigint,
    -- What was done: 'message', 'opt_out', 'opt_in', 'bounce', 'auto_reply', 'ignored'.
    outcome     text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);

-- Inbound texts find their channel by the number they were sent to (`sms_from`) or, for
-- channels that send through a Twilio Messaging Service, by its sid.
ALTER TABLE public.channels ADD COLUMN sms_messaging_service_sid text
    CONSTRAINT channels_sms_messaging_service_sid_format CHECK (sms_messaging_service_sid ~ '^MG[0-9a-fA-F]{32}$');
CREATE INDEX channels_sms_from_idx ON public.channels (sms_from) WHERE sms_from IS NOT NULL;
CREATE INDEX channels_sms_messaging_service_idx ON public.channels (sms_messaging_service_sid)
    WHERE sms_messaging_service_sid IS NOT NULL;
-- An inbound text finds its customer by phone within those channels.
CREATE INDEX customers_phone_idx ON public.customers (phone) WHERE phone IS NOT NULL;

-- The delivery log, now with receipts and opt-outs: the same columns as before, in the same
-- order, then the provider's code and the receipt.
CREATE OR REPLACE VIEW public.delivery_report AS
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
       d.provider_code,
       d.receipt_status,
       d.receipt_at
FROM public.deliveries d
JOIN public.channels ch ON ch.id = d.channel_id
LEFT JOIN public.deliveries r ON r.replaces = d.id;

COMMENT ON VIEW public.delivery_report IS
    'Every follow-up delivery attempt with its status, receipt and, in words, why (see docs/app-contract.md, docs/webhooks.md).';
