-- The SMS wallet: a double-entry ledger (schema `wallet`) and the SQL finance reads (schema `finance`).
-- docs/finance.md explains it for a finance reader. This file holds the tables; the rules that
-- write them are functions and triggers in the R__*.sql files beside it (repeatables).
--
-- Money is bigint micro-USD: 1 USD = 1,000,000 (a US SMS segment is 7,900).
--
-- The rules, each enforced in the database, whoever writes:
--   * every transfer's entries sum to zero, and the positive ones to the transfer's amount
--     (checked once per posting statement);
--   * a wallet account never goes below its floor (CHECK on its cached balance);
--   * the cached balance moves only with an entry (a trigger applies each entry to its account,
--     and refuses any other change of balance or version);
--   * transfers and entries are written only by wallet.post, and are append-only (triggers
--     refuse UPDATE, DELETE and TRUNCATE, and no role but the owner has any write privilege):
--     corrections are reversals;
--   * an idempotency key is used once (unique); a hold is settled (captured or released) once,
--     a transfer reversed once (partial unique indexes);
--   * one posting locks the accounts it touches in ascending id order, so concurrent postings
--     serialize without deadlocking.

CREATE SCHEMA wallet;
CREATE SCHEMA finance;
REVOKE ALL ON SCHEMA wallet, finance FROM PUBLIC;

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Accounts. Per channel: 'paid' (money the company paid in), 'promotional' (monthly and operator
-- promotional credit, spent first) and 'held' (reserved for texts in flight). System accounts
-- (channel_id NULL): 'revenue' per route, 'top_up_clearing' (card payments received),
-- 'promotional_expense' (credit given away), 'adjustments' (operator corrections).
--
-- Wallet accounts cache their balance (and a version bumped by every entry) and have a floor of
-- zero. System accounts are uncached and unbounded: their balance is the sum of their entries, so
-- charges on different wallets never queue behind one hot "revenue" row.
CREATE TABLE wallet.accounts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id bigint REFERENCES channels (id),
    kind       text NOT NULL CONSTRAINT accounts_kind_known CHECK (kind IN
                   ('paid', 'promotional', 'held', 'revenue', 'top_up_clearing', 'promotional_expense', 'adjustments')),
    route      text CONSTRAINT accounts_route_for_revenue CHECK ((kind = 'revenue') = (route IS NOT NULL)),
    cached     boolean NOT NULL,
    balance    bigint NOT NULL DEFAULT 0,
    version    bigint NOT NULL DEFAULT 0,
    floor      bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_floor CHECK (floor IS NULL OR balance >= floor),
    CONSTRAINT accounts_owner CHECK ((channel_id IS NOT NULL) = (kind IN ('paid', 'promotional', 'held'))),
    CONSTRAINT accounts_cached_wallets CHECK (cached = (channel_id IS NOT NULL)),
    CONSTRAINT accounts_uncached_zero CHECK (cached OR (balance = 0 AND version = 0))
);
CREATE UNIQUE INDEX accounts_per_channel ON wallet.accounts (channel_id, kind) WHERE channel_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_system ON wallet.accounts (kind, coalesce(route, '')) WHERE channel_id IS NULL;

INSERT INTO wallet.accounts (kind, route, cached) VALUES
    ('revenue', 'messenger', false), ('revenue', 'sms', false), ('revenue', 'lms', false),
    ('revenue', 'email', false), ('top_up_clearing', NULL, false),
    ('promotional_expense', NULL, false), ('adjustments', NULL, false);

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Transfers: one business event each (a text's hold, capture or release; a top-up; a monthly
-- credit; an operator credit, adjustment or reversal). `amount` is the total moved (the sum of
-- the positive entries).
CREATE TABLE wallet.transfers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL CONSTRAINT transfers_idempotency_key UNIQUE
                        CONSTRAINT transfers_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    kind            text NOT NULL CONSTRAINT transfers_kind_known CHECK (kind IN
                        ('hold', 'capture', 'release', 'top_up', 'monthly_credit', 'credit', 'adjustment', 'reversal')),
    channel_id      bigint NOT NULL,
    amount          bigint NOT NULL CONSTRAINT transfers_amount_positive CHECK (amount > 0),
    -- A text's route (holds and captures): the revenue account it ends in.
    route           text,
    -- The delivery a hold, capture or release is for.
    delivery_id     bigint,
    -- The top-up a top_up transfer credits.
    top_up_id       bigint,
    -- A capture or release: the hold it settles (each hold is settled once).
    settles         bigint REFERENCES wallet.transfers (id),
    -- A reversal: the transfer it undoes (each transfer is reversed at most once).
    reverses        bigint REFERENCES wallet.transfers (id),
    reason          text NOT NULL CONSTRAINT transfers_reason_length CHECK (length(reason) BETWEEN 1 AND 500),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transfers_delivery_for_texts CHECK ((kind IN ('hold', 'capture', 'release')) = (delivery_id IS NOT NULL)),
    CONSTRAINT transfers_settles_for_settlements CHECK ((kind IN ('capture', 'release')) = (settles IS NOT NULL)),
    CONSTRAINT transfers_reverses_for_reversals CHECK ((kind = 'reversal') = (reverses IS NOT NULL)),
    CONSTRAINT transfers_top_up_for_top_ups CHECK ((kind = 'top_up') = (top_up_id IS NOT NULL))
);
CREATE INDEX transfers_channel_idx ON wallet.transfers (channel_id, id);
CREATE INDEX transfers_delivery_idx ON wallet.transfers (delivery_id) WHERE delivery_id IS NOT NULL;
CREATE INDEX transfers_holds_idx ON wallet.transfers (created_at) WHERE kind = 'hold';
-- "Settled once, reversed once" as partial unique indexes: the many transfers that settle and
-- reverse nothing (every hold, top-up and credit) add no entry to either.
CREATE UNIQUE INDEX transfers_settles_once ON wallet.transfers (settles) WHERE settles IS NOT NULL;
CREATE UNIQUE INDEX transfers_reversed_once ON wallet.transfers (reverses) WHERE reverses IS NOT NULL;

-- Entries: the legs of a transfer. `balance_after` and `account_version` are filled in by the
-- database (wallet accounts only), so a statement can show the running balance of every entry.
CREATE TABLE wallet.entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transfer_id     bigint NOT NULL REFERENCES wallet.transfers (id),
    account_id      bigint NOT NULL REFERENCES wallet.accounts (id),
    amount          bigint NOT NULL CONSTRAINT entries_amount_nonzero CHECK (amount <> 0),
    balance_after   bigint,
    account_version bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT entries_account_version UNIQUE (account_id, account_version)
);
CREATE INDEX entries_transfer_idx ON wallet.entries (transfer_id);
-- Uncached (system) accounts: their balance is summed from here.
CREATE INDEX entries_account_idx ON wallet.entries (account_id) INCLUDE (amount);

-- What the posting functions return: the transfer, and whether this call created it (false: the
-- idempotency key had already posted the same transfer).
CREATE TYPE wallet.posted AS (id bigint, kind text, amount bigint, created boolean);

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Prices: per country (ISO alpha-2, or '*' for every other country) and route, versioned by the
-- time they take effect. A new price is a new row; the row in force at a time is the latest one
-- whose effective_from has passed, the country's own before '*'. SMS bills per segment, the
-- other routes per message. Email is free for now (a row at zero: change it by adding a row).
CREATE TABLE wallet.prices (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    country        text NOT NULL CONSTRAINT prices_country_iso CHECK (country = '*' OR country ~ '^[A-Z]{2}$'),
    route          text NOT NULL CONSTRAINT prices_route_known CHECK (route IN ('messenger', 'sms', 'lms', 'email')),
    unit           text NOT NULL CONSTRAINT prices_unit_known CHECK (unit IN ('segment', 'message')),
    price_micros   bigint NOT NULL CONSTRAINT prices_not_negative CHECK (price_micros >= 0),
    effective_from timestamptz NOT NULL,
    note           text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT prices_one_per_time UNIQUE (route, country, effective_from)
);

-- The launch prices, in micro-USD (docs/finance.md lists them with their sources).
INSERT INTO wallet.prices (country, route, unit, price_micros, effective_from, note) VALUES
    ('US', 'sms',       'segment',  7900, '2026-01-01Z', 'US SMS, per segment ($0.0079)'),
    ('KR', 'sms',       'message', 15000, '2026-01-01Z', 'KR SMS up to 90 bytes (about 20 KRW)'),
    ('KR', 'lms',       'message', 37000, '2026-01-01Z', 'KR LMS up to 2,000 bytes (about 50 KRW)'),
    ('KR', 'messenger', 'message',  6000, '2026-01-01Z', 'KR AlimTalk-style messenger (about 8 KRW)'),
    ('*',  'sms',       'segment', 50000, '2026-01-01Z', 'international SMS, per segment ($0.05)'),
    ('*',  'lms',       'message', 50000, '2026-01-01Z', 'LMS outside Korea'),
    ('*',  'messenger', 'message',  6000, '2026-01-01Z', 'messenger outside Korea'),
    ('*',  'email',     'message',     0, '2026-01-01Z', 'email is free for now');


-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Auto-charge: per channel, the company's "Recharge SMS" rule. When a charge leaves the available
-- balance (promotional + paid) under `threshold_micros`, a top-up of `amount_micros` is charged
-- to `payment_customer`, at most `monthly_cap_micros` per calendar month (UTC; NULL: no cap).
-- After a decline, no new top-up is tried before `retry_after` (backoff grows with
-- `consecutive_declines`; a success resets both).
CREATE TABLE wallet.auto_charge (
    channel_id          bigint PRIMARY KEY REFERENCES channels (id),
    enabled             boolean NOT NULL DEFAULT false,
    threshold_micros    bigint NOT NULL DEFAULT 5000000 CONSTRAINT auto_charge_threshold_not_negative CHECK (threshold_micros >= 0),
    amount_micros       bigint NOT NULL DEFAULT 20000000
                        CONSTRAINT auto_charge_amount_whole_cents CHECK (amount_micros > 0 AND amount_micros % 10000 = 0),
    monthly_cap_micros  bigint CONSTRAINT auto_charge_cap_covers_one CHECK (monthly_cap_micros IS NULL OR monthly_cap_micros >= amount_micros),
    payment_customer    text CONSTRAINT auto_charge_customer_length CHECK (length(payment_customer) BETWEEN 1 AND 200),
    consecutive_declines integer NOT NULL DEFAULT 0,
    retry_after         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT auto_charge_needs_customer CHECK (NOT enabled OR payment_customer IS NOT NULL)
);

-- Top-ups: one per request; at most one in flight per wallet.
CREATE TABLE wallet.top_ups (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id    bigint NOT NULL REFERENCES channels (id),
    amount_micros bigint NOT NULL CONSTRAINT top_ups_whole_cents CHECK (amount_micros > 0 AND amount_micros % 10000 = 0),
    state         text NOT NULL DEFAULT 'pending'
                  CONSTRAINT top_ups_state_known CHECK (state IN ('pending', 'charging', 'succeeded', 'declined', 'failed')),
    -- Why it was requested: 'below threshold' or 'insufficient balance'.
    reason        text NOT NULL,
    -- Why it did not succeed (the provider's decline reason, or the error).
    failure       text,
    transfer_id   bigint REFERENCES wallet.transfers (id),
    requested_at  timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    CONSTRAINT top_ups_credited_when_succeeded CHECK ((state = 'succeeded') = (transfer_id IS NOT NULL))
);
CREATE UNIQUE INDEX top_ups_one_in_flight ON wallet.top_ups (channel_id) WHERE state IN ('pending', 'charging');
CREATE INDEX top_ups_channel_idx ON wallet.top_ups (channel_id, requested_at);

-- Attempts: one per idempotency key sent to the payment provider (the attempt's id). An attempt
-- whose answer was never heard stays 'started' and is reconciled (provider lookup, then the same
-- key again) before anything new is tried: a key is never abandoned while it might have charged.
CREATE TABLE wallet.top_up_attempts (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    top_up_id           bigint NOT NULL REFERENCES wallet.top_ups (id),
    state               text NOT NULL DEFAULT 'started'
                        CONSTRAINT top_up_attempts_state_known CHECK (state IN ('started', 'succeeded', 'declined', 'failed')),
    -- How many times the provider was (maybe) called with this key.
    calls               integer NOT NULL DEFAULT 0,
    provider_payment_id text,
    failure             text,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz
);
CREATE UNIQUE INDEX top_up_attempts_one_open ON wallet.top_up_attempts (top_up_id) WHERE state = 'started';

-- Monthly credit: one row per channel and calendar month (UTC), the proof it was granted once.
CREATE TABLE wallet.monthly_credits (
    channel_id    bigint NOT NULL REFERENCES channels (id),
    month         date NOT NULL CONSTRAINT monthly_credits_first_of_month CHECK (extract(day FROM month) = 1),
    amount_micros bigint NOT NULL CHECK (amount_micros > 0),
    transfer_id   bigint NOT NULL UNIQUE REFERENCES wallet.transfers (id),
    granted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, month)
);
