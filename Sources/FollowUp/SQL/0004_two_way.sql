-- Two-way follow-ups (`followup serve`, `followup mail-in`; docs/webhooks.md): who opted out,
-- and the inbound events already handled. The new delivery statuses and the receipt columns are
-- in 0002_follow_ups.sql, the channel's messaging service in 0001_app_contract.sql.

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

