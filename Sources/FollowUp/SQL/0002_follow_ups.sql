-- Follow-ups: what `followup run` does with the app's rows (docs/app-contract.md).
--
-- A manager or bot message in a support chat enqueues one `followup.offline_check` job per chat
-- (a unique job: many messages, one check). The check reads the customer's latest `activity`:
-- offline (left, tab hidden, or silent for the channel's `offline_timeout`) with unseen answers
-- → a `follow_ups` row and its dispatch job; still online → the job snoozes until the timeout
-- would pass. A `left`/`tab_hidden` row pulls a waiting check forward. Nothing scans customers.
-- The triggers that do this are in R__follow_up_triggers.sql; the delivery_report view in
-- R__delivery_report.sql (repeatables: applied again whenever their text changes).

-- One notification episode of a chat: the unseen answers (first..last message id) it carries,
-- and how it ended. At most one open (pending or awaiting its push acknowledgement) per chat.
CREATE TABLE follow_ups (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id       bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    chat_id          bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    customer_id      bigint NOT NULL,
    -- pending: decided, going out; awaiting_push_ack: pushed, waiting for a push_receipts row;
    -- notified: text/email went out (see deliveries); acknowledged: the push was received;
    -- cancelled: the customer came back or read the chat first, or nothing could be sent.
    status           text NOT NULL DEFAULT 'pending' CONSTRAINT follow_ups_status_known
                     CHECK (status IN ('pending', 'awaiting_push_ack', 'notified', 'acknowledged', 'cancelled')),
    -- Why it ended so, in words (e.g. 'customer came back before it was sent').
    reason           text,
    first_message_id bigint NOT NULL,
    last_message_id  bigint NOT NULL,
    message_count    integer NOT NULL CHECK (message_count > 0),
    -- When and why the customer counted as offline.
    offline_since    timestamptz NOT NULL,
    offline_reason   text NOT NULL,
    push_deadline    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT follow_ups_messages_ordered CHECK (first_message_id <= last_message_id)
);
CREATE UNIQUE INDEX follow_ups_one_open_per_chat ON follow_ups (chat_id) WHERE status IN ('pending', 'awaiting_push_ack');
CREATE INDEX follow_ups_chat_idx ON follow_ups (chat_id, id);
CREATE INDEX follow_ups_channel_created_idx ON follow_ups (channel_id, created_at DESC);
-- The last hour's follow-ups and deliveries, for `/metrics` (docs/operations.md).
CREATE INDEX follow_ups_created_idx ON follow_ups (created_at);

-- Every attempt on every route: the answer to "were my texts sent, and if not, why?".
-- A text is a `messenger` row, or an `sms`/`lms` row, or a messenger row that failed plus the
-- `sms`/`lms` row that `replaces` it. Prices are micro-USD; the wallet holds `price_micros` while
-- the attempt is `sending`, captures it when sent (`cost_micros`), releases it when it failed.
CREATE TABLE deliveries (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    follow_up_id        bigint REFERENCES follow_ups (id) ON DELETE SET NULL,
    channel_id          bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    chat_id             bigint,
    customer_id         bigint,
    route               text NOT NULL CONSTRAINT deliveries_route_known
                        CHECK (route IN ('push', 'messenger', 'sms', 'lms', 'email')),
    -- queued → sending → sent (→ delivered / undelivered / bounced by a receipt), or failed /
    -- excluded / suppressed (the recipient opted out or hard-bounced) / capped (over the chat's
    -- daily cap: not sent, not charged); unknown: the outcome could
    -- not be learned within the lookup window (docs/providers.md), so it was not sent again.
    status              text NOT NULL DEFAULT 'queued' CONSTRAINT deliveries_status_known
                        CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'bounced', 'suppressed',
                                          'failed', 'excluded', 'capped', 'unknown')),
    reason              text,
    -- The messenger delivery this SMS/LMS replaced (messenger first, then XMS: one of the two).
    replaces            bigint REFERENCES deliveries (id),
    device_id           bigint,
    -- Phone number, email address or device token this went to.
    recipient           text,
    subject             text,
    body                text,
    provider_message_id text,
    provider_code       text,
    segments            integer NOT NULL DEFAULT 0 CHECK (segments >= 0),
    country             text,
    price_micros        bigint NOT NULL DEFAULT 0 CHECK (price_micros >= 0),
    cost_micros         bigint NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    -- Send attempts (job runs that reached the provider call).
    attempts            integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sending_at          timestamptz,
    sent_at             timestamptz,
    delivered_at        timestamptz,
    finished_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- Email only: the HTML part, as sent (composed when the follow-up is planned, with `subject`
    -- and `body`, so sending needs neither the messages nor the template again).
    html                text,
    -- Push only: the unguessable token the push carries; its receipt must quote it.
    receipt_token       text,
    -- Email only: the From domain used, the DKIM selector that signed it (NULL: unsigned), and
    -- why it did not come from the channel's own domain when the channel has one.
    from_domain         text,
    dkim_selector       text,
    sender_note         text,
    -- The last final receipt a provider reported (a status callback, a messenger result, a
    -- bounce), first one wins. Kept apart from `status` so a receipt that arrives while the
    -- delivery is still `sending` is not lost: the send applies it when it records `sent`.
    receipt_status      text CONSTRAINT deliveries_receipt_status_known
                        CHECK (receipt_status IN ('delivered', 'undelivered', 'bounced')),
    receipt_at          timestamptz
) WITH (fillfactor = 80);
-- A delivery changes status two or three times. No index covers `status` (nor any other column
-- an update changes), and fillfactor 80 leaves room on each page, so those updates stay on the
-- page (HOT) and write no index entries.
-- One row per follow-up, route and device: re-running a planning step never doubles a delivery.
CREATE UNIQUE INDEX deliveries_one_per_route ON deliveries (follow_up_id, route, coalesce(device_id, 0))
    WHERE follow_up_id IS NOT NULL;
CREATE INDEX deliveries_channel_created_idx ON deliveries (channel_id, created_at DESC);
CREATE INDEX deliveries_created_idx ON deliveries (created_at);
-- The SMS/LMS that replaced a messenger text is found by `replaces` (delivery_report, and the
-- foreign key's check); without this index both scan every delivery.
CREATE INDEX deliveries_replaces_idx ON deliveries (replaces) WHERE replaces IS NOT NULL;

