-- The SMS wallet: a double-entry ledger (schema `wallet`) and the SQL finance reads (schema `finance`).
-- docs/finance.md explains it for a finance reader; this file is the source of truth.
--
-- Money is bigint micro-USD: 1 USD = 1,000,000 (a US SMS segment is 7,900).
--
-- The rules, each enforced here, in the database, whoever writes:
--   * every transfer's entries sum to zero (a deferred constraint trigger, checked at commit);
--   * a wallet account never goes below its floor (CHECK on its cached balance);
--   * the cached balance moves only with an entry (a trigger applies each entry to its account,
--     and refuses any other change of balance or version);
--   * transfers and entries are append-only (triggers refuse UPDATE, DELETE and TRUNCATE, and
--     the product's role has no such privilege either): corrections are reversals;
--   * an idempotency key is used once (unique); a hold is settled (captured or released) once,
--     a transfer reversed once (unique references);
--   * one posting locks the accounts it touches in ascending id order, so concurrent postings
--     serialize without deadlocking.
--
-- Posting goes through the functions below (SECURITY DEFINER): the product's role may call them
-- but may not write ledger tables directly.

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Roles. Cluster-wide, so created only if missing (several databases share a cluster).
--   followup_app      the product (the login the product uses is granted this role);
--   followup_finance  read-only: the finance views, nothing else.
DO $$
BEGIN
    CREATE ROLE followup_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    CREATE ROLE followup_finance NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

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
    settles         bigint CONSTRAINT transfers_settles_once UNIQUE REFERENCES wallet.transfers (id),
    -- A reversal: the transfer it undoes (each transfer is reversed at most once).
    reverses        bigint CONSTRAINT transfers_reversed_once UNIQUE REFERENCES wallet.transfers (id),
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

-- Applies an entry to its account (wallet accounts: balance, version, floor by CHECK), and lets in
-- only the entries of the transfer being posted by wallet.post in this transaction.
CREATE FUNCTION wallet.apply_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.transfer_id IS DISTINCT FROM nullif(current_setting('wallet.posting', true), '')::bigint THEN
        RAISE EXCEPTION 'entries are posted by wallet functions only, with their transfer'
            USING ERRCODE = 'WL009';
    END IF;
    UPDATE wallet.accounts SET balance = balance + NEW.amount, version = version + 1
    WHERE id = NEW.account_id AND cached
    RETURNING balance, version INTO NEW.balance_after, NEW.account_version;
    IF NOT FOUND THEN
        NEW.balance_after := NULL;
        NEW.account_version := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER entries_apply BEFORE INSERT ON wallet.entries FOR EACH ROW EXECUTE FUNCTION wallet.apply_entry();

-- The cached balance and version change only through an entry (the trigger above, one level down).
CREATE FUNCTION wallet.guard_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'wallet accounts are never deleted' USING ERRCODE = 'WL009';
    END IF;
    IF (NEW.balance, NEW.version, NEW.kind, NEW.channel_id, NEW.cached) IS DISTINCT FROM
       (OLD.balance, OLD.version, OLD.kind, OLD.channel_id, OLD.cached) AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'an account balance changes only by posting a transfer' USING ERRCODE = 'WL009';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_guard BEFORE UPDATE OR DELETE ON wallet.accounts FOR EACH ROW EXECUTE FUNCTION wallet.guard_account();

-- Append-only history.
CREATE FUNCTION wallet.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: post a reversal instead of changing history', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME
        USING ERRCODE = 'WL009';
END $$;
CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON wallet.transfers FOR EACH ROW EXECUTE FUNCTION wallet.append_only();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON wallet.transfers FOR EACH STATEMENT EXECUTE FUNCTION wallet.append_only();
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON wallet.entries FOR EACH ROW EXECUTE FUNCTION wallet.append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON wallet.entries FOR EACH STATEMENT EXECUTE FUNCTION wallet.append_only();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON wallet.accounts FOR EACH STATEMENT EXECUTE FUNCTION wallet.append_only();

-- At commit: every transfer has at least two entries, they sum to zero, and the positive ones
-- sum to the transfer's amount.
CREATE FUNCTION wallet.check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    legs integer;
    positive bigint;
BEGIN
    SELECT coalesce(sum(amount), 0), count(*), coalesce(sum(amount) FILTER (WHERE amount > 0), 0)
    INTO total, legs, positive
    FROM wallet.entries WHERE transfer_id = NEW.id;
    IF legs < 2 OR total <> 0 OR positive <> NEW.amount THEN
        RAISE EXCEPTION 'transfer % is unbalanced (% entries, sum %, amount %)', NEW.id, legs, total, NEW.amount
            USING ERRCODE = 'WL010';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER transfers_balanced AFTER INSERT ON wallet.transfers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wallet.check_balanced();

-- The same check for every entry, so a leg appended to an old transfer cannot commit either.
CREATE FUNCTION wallet.check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    positive bigint;
    expected bigint;
BEGIN
    SELECT coalesce(sum(e.amount), 0), coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0)
    INTO total, positive
    FROM wallet.entries e WHERE e.transfer_id = NEW.transfer_id;
    SELECT t.amount INTO expected FROM wallet.transfers t WHERE t.id = NEW.transfer_id;
    IF total <> 0 OR positive <> expected THEN
        RAISE EXCEPTION 'transfer % is unbalanced (sum %, amount %)', NEW.transfer_id, total, expected
            USING ERRCODE = 'WL010';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER entries_balanced AFTER INSERT ON wallet.entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wallet.check_entry_balanced();

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Posting.

-- What the posting functions return: the transfer, and whether this call created it (false: the
-- idempotency key had already posted the same transfer).
CREATE TYPE wallet.posted AS (id bigint, kind text, amount bigint, created boolean);

-- The one way entries are written. Legs are (account, signed amount) pairs; they must sum to zero.
-- The same key again returns the first transfer when it was the same (kind, wallet, amount), and
-- raises WL001 when it was not. Locks the wallet accounts touched in ascending id order.
CREATE FUNCTION wallet.post(
    p_key text, p_kind text, p_channel bigint, p_reason text, p_created_by text,
    p_accounts bigint[], p_amounts bigint[],
    p_route text DEFAULT NULL, p_delivery bigint DEFAULT NULL, p_top_up bigint DEFAULT NULL,
    p_settles bigint DEFAULT NULL, p_reverses bigint DEFAULT NULL
) RETURNS wallet.posted LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    positive bigint;
    new_id bigint;
    existing wallet.transfers;
BEGIN
    IF cardinality(p_accounts) IS DISTINCT FROM cardinality(p_amounts) OR cardinality(p_accounts) < 2 THEN
        RAISE EXCEPTION 'a transfer needs at least two legs, one amount per account' USING ERRCODE = 'WL008';
    END IF;
    SELECT sum(a), sum(a) FILTER (WHERE a > 0) INTO total, positive FROM unnest(p_amounts) AS a;
    IF total <> 0 OR positive IS NULL OR 0 = ANY (p_amounts) THEN
        RAISE EXCEPTION 'the legs of a transfer must be non-zero and sum to zero' USING ERRCODE = 'WL008';
    END IF;
    INSERT INTO wallet.transfers (idempotency_key, kind, channel_id, amount, route, delivery_id, top_up_id,
                                  settles, reverses, reason, created_by)
    VALUES (p_key, p_kind, p_channel, positive, p_route, p_delivery, p_top_up, p_settles, p_reverses,
            p_reason, coalesce(p_created_by, 'system'))
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING transfers.id INTO new_id;
    IF new_id IS NULL THEN
        SELECT * INTO existing FROM wallet.transfers t WHERE t.idempotency_key = p_key;
        IF existing.kind <> p_kind OR existing.channel_id <> p_channel OR existing.amount <> positive THEN
            RAISE EXCEPTION 'idempotency key already used for a different transfer'
                USING ERRCODE = 'WL001', DETAIL = p_key;
        END IF;
        RETURN ROW(existing.id, existing.kind, existing.amount, false)::wallet.posted;
    END IF;
    PERFORM 1 FROM wallet.accounts a WHERE a.id = ANY (p_accounts) AND a.cached ORDER BY a.id FOR UPDATE;
    PERFORM set_config('wallet.posting', new_id::text, true);
    INSERT INTO wallet.entries (transfer_id, account_id, amount)
    SELECT new_id, l.account, l.amount FROM unnest(p_accounts, p_amounts) AS l(account, amount) ORDER BY l.account;
    PERFORM set_config('wallet.posting', '', true);
    RETURN ROW(new_id, p_kind, positive, true)::wallet.posted;
END $$;

-- A channel's three wallet accounts, created on first use. Raises WL002 for an unknown channel.
CREATE FUNCTION wallet.channel_accounts(p_channel bigint, OUT paid bigint, OUT promotional bigint, OUT held bigint)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT max(a.id) FILTER (WHERE a.kind = 'paid'), max(a.id) FILTER (WHERE a.kind = 'promotional'),
           max(a.id) FILTER (WHERE a.kind = 'held')
    INTO paid, promotional, held
    FROM wallet.accounts a WHERE a.channel_id = p_channel;
    IF held IS NULL THEN
        IF NOT EXISTS (SELECT 1 FROM public.channels c WHERE c.id = p_channel) THEN
            RAISE EXCEPTION 'no channel with id %', p_channel USING ERRCODE = 'WL002', DETAIL = p_channel::text;
        END IF;
        INSERT INTO wallet.accounts (channel_id, kind, cached, floor)
        VALUES (p_channel, 'paid', true, 0), (p_channel, 'promotional', true, 0), (p_channel, 'held', true, 0)
        ON CONFLICT DO NOTHING;
        SELECT max(a.id) FILTER (WHERE a.kind = 'paid'), max(a.id) FILTER (WHERE a.kind = 'promotional'),
               max(a.id) FILTER (WHERE a.kind = 'held')
        INTO paid, promotional, held
        FROM wallet.accounts a WHERE a.channel_id = p_channel;
    END IF;
END $$;

-- Locks a channel's wallet (its three accounts, ascending id: the one lock order every wallet
-- operation uses) and returns the balances as they are now.
CREATE FUNCTION wallet.lock_wallet(p_channel bigint,
    OUT paid_id bigint, OUT promotional_id bigint, OUT held_id bigint,
    OUT paid bigint, OUT promotional bigint, OUT held bigint)
LANGUAGE plpgsql AS $$
BEGIN
    FOR attempt IN 1..2 LOOP
        SELECT max(l.id) FILTER (WHERE l.kind = 'paid'), max(l.id) FILTER (WHERE l.kind = 'promotional'),
               max(l.id) FILTER (WHERE l.kind = 'held'),
               sum(l.balance) FILTER (WHERE l.kind = 'paid'), sum(l.balance) FILTER (WHERE l.kind = 'promotional'),
               sum(l.balance) FILTER (WHERE l.kind = 'held')
        INTO paid_id, promotional_id, held_id, paid, promotional, held
        FROM (SELECT a.id, a.kind, a.balance FROM wallet.accounts a WHERE a.channel_id = p_channel ORDER BY a.id FOR UPDATE) l;
        EXIT WHEN held_id IS NOT NULL;
        PERFORM wallet.channel_accounts(p_channel);  -- first use: create them, then lock
    END LOOP;
END $$;

-- A system account's id (revenue accounts for new routes are created on first use).
CREATE FUNCTION wallet.system_account(p_kind text, p_route text DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    found_id bigint;
BEGIN
    SELECT a.id INTO found_id FROM wallet.accounts a
    WHERE a.channel_id IS NULL AND a.kind = p_kind AND a.route IS NOT DISTINCT FROM p_route;
    IF found_id IS NULL THEN
        INSERT INTO wallet.accounts (kind, route, cached) VALUES (p_kind, p_route, false) ON CONFLICT DO NOTHING;
        SELECT a.id INTO found_id FROM wallet.accounts a
        WHERE a.channel_id IS NULL AND a.kind = p_kind AND a.route IS NOT DISTINCT FROM p_route;
    END IF;
    RETURN found_id;
END $$;

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
CREATE TRIGGER prices_append_only BEFORE UPDATE OR DELETE ON wallet.prices FOR EACH ROW EXECUTE FUNCTION wallet.append_only();

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

-- Price in micro-USD of one text on `route` to `country` for `units` (SMS segments) at `at`.
CREATE FUNCTION wallet.price(p_route text, p_country text, p_units integer, p_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
    result bigint;
BEGIN
    SELECT p.price_micros * CASE p.unit WHEN 'segment' THEN greatest(coalesce(p_units, 1), 1) ELSE 1 END
    INTO result
    FROM wallet.prices p
    WHERE p.route = p_route AND p.country IN (upper(p_country), '*') AND p.effective_from <= p_at
    ORDER BY p.country = '*', p.effective_from DESC
    LIMIT 1;
    IF result IS NULL THEN
        RAISE EXCEPTION 'no price for route % in %', p_route, p_country
            USING ERRCODE = 'WL003', DETAIL = coalesce(p_route, '') || '|' || coalesce(p_country, '');
    END IF;
    RETURN result;
END $$;

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
CREATE TRIGGER monthly_credits_append_only BEFORE UPDATE OR DELETE ON wallet.monthly_credits FOR EACH ROW EXECUTE FUNCTION wallet.append_only();

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Auto-charge requests. Called by hold and capture with the wallet's available balance (or
-- with NULL when the wallet could not cover a text: then the threshold is not consulted).
-- Returns the new top-up's id, or NULL when none was requested (auto-charge off, a top-up
-- already in flight, backing off after a decline, or the monthly cap reached).
CREATE FUNCTION wallet.request_top_up(p_channel bigint, p_available bigint, p_reason text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    rule wallet.auto_charge;
    this_month bigint;
    new_id bigint;
BEGIN
    SELECT * INTO rule FROM wallet.auto_charge a WHERE a.channel_id = p_channel;
    IF NOT FOUND OR NOT rule.enabled THEN RETURN NULL; END IF;
    IF p_available IS NOT NULL AND p_available >= rule.threshold_micros THEN RETURN NULL; END IF;
    IF rule.retry_after IS NOT NULL AND rule.retry_after > now() THEN RETURN NULL; END IF;
    IF EXISTS (SELECT 1 FROM wallet.top_ups t WHERE t.channel_id = p_channel AND t.state IN ('pending', 'charging')) THEN
        RETURN NULL;
    END IF;
    IF rule.monthly_cap_micros IS NOT NULL THEN
        SELECT coalesce(sum(t.amount_micros), 0) INTO this_month FROM wallet.top_ups t
        WHERE t.channel_id = p_channel AND t.state IN ('pending', 'charging', 'succeeded')
          AND t.requested_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        IF this_month + rule.amount_micros > rule.monthly_cap_micros THEN RETURN NULL; END IF;
    END IF;
    INSERT INTO wallet.top_ups (channel_id, amount_micros, reason)
    VALUES (p_channel, rule.amount_micros, p_reason)
    ON CONFLICT DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NOT NULL THEN
        PERFORM public.jobs_enqueue('wallet.top_up', jsonb_build_object('top_up_id', new_id, 'channel_id', p_channel),
                                    'default', now(), 2::smallint, 25, 'wallet.top_up:' || new_id);
    END IF;
    RETURN new_id;
END $$;

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Texts: hold before sending, capture after the provider accepted, release when it was not sent.

-- Reserves `p_amount` for delivery `p_delivery`: promotional credit first, then paid balance,
-- into the channel's 'held' account. Idempotent per delivery. Returns a status and does not
-- raise, so the caller's transaction stays usable to record the failed delivery:
--   'held'          held now, or by an earlier call with the same amount;
--   'insufficient'  the wallet cannot cover it: nothing posted, a top-up requested (if on);
--   'conflict'      the delivery already holds a different amount;
--   'released'      the delivery's hold was released earlier and is not taken again.
CREATE FUNCTION wallet.hold(p_channel bigint, p_delivery bigint, p_amount bigint, p_route text DEFAULT NULL,
    OUT status text, OUT hold_id bigint, OUT available bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    w record;
    existing wallet.transfers;
    from_promotional bigint;
    accounts bigint[];
    amounts bigint[];
    posted wallet.posted;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'a hold must be a positive amount' USING ERRCODE = 'WL008';
    END IF;
    SELECT * INTO w FROM wallet.lock_wallet(p_channel);
    SELECT * INTO existing FROM wallet.transfers t WHERE t.idempotency_key = 'hold:' || p_delivery;
    IF FOUND THEN
        hold_id := existing.id;
        available := w.paid + w.promotional;
        IF existing.channel_id <> p_channel OR existing.amount <> p_amount THEN
            status := 'conflict';  -- the delivery holds a different amount (or wallet)
        ELSIF EXISTS (SELECT 1 FROM wallet.transfers s WHERE s.settles = existing.id AND s.kind = 'release') THEN
            status := 'released';  -- a released hold is not taken again
        ELSE
            status := 'held';
        END IF;
        RETURN;
    END IF;
    IF w.paid + w.promotional < p_amount THEN
        PERFORM wallet.request_top_up(p_channel, NULL, 'insufficient balance');
        status := 'insufficient';
        available := w.paid + w.promotional;
        RETURN;
    END IF;
    from_promotional := least(w.promotional, p_amount);
    accounts := ARRAY[w.held_id];
    amounts := ARRAY[p_amount];
    IF from_promotional > 0 THEN
        accounts := accounts || w.promotional_id;
        amounts := amounts || -from_promotional;
    END IF;
    IF p_amount - from_promotional > 0 THEN
        accounts := accounts || w.paid_id;
        amounts := amounts || -(p_amount - from_promotional);
    END IF;
    posted := wallet.post('hold:' || p_delivery, 'hold', p_channel,
                          coalesce(p_route, 'text') || ' held for delivery ' || p_delivery, 'system',
                          accounts, amounts, p_route => p_route, p_delivery => p_delivery);
    status := 'held';
    hold_id := posted.id;
    available := w.paid + w.promotional - p_amount;
    PERFORM wallet.request_top_up(p_channel, available, 'below threshold');
END $$;

-- Charges the delivery's hold: held → revenue of its route. Idempotent; NULL when there is no
-- hold (a free text). Raises WL007 when the hold was released.
CREATE FUNCTION wallet.capture(p_delivery bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    h wallet.transfers;
    w record;
    settled wallet.transfers;
    text_route text;
    posted wallet.posted;
BEGIN
    SELECT * INTO h FROM wallet.transfers t WHERE t.idempotency_key = 'hold:' || p_delivery;
    IF NOT FOUND THEN RETURN NULL; END IF;
    SELECT * INTO w FROM wallet.lock_wallet(h.channel_id);
    SELECT * INTO settled FROM wallet.transfers s WHERE s.settles = h.id;
    IF FOUND THEN
        IF settled.kind = 'capture' THEN RETURN settled.id; END IF;
        RAISE EXCEPTION 'the hold of delivery % was released', p_delivery
            USING ERRCODE = 'WL007', DETAIL = p_delivery || '|released';
    END IF;
    text_route := coalesce(h.route, (SELECT d.route FROM public.deliveries d WHERE d.id = p_delivery), 'sms');
    posted := wallet.post('capture:' || p_delivery, 'capture', h.channel_id,
                          text_route || ' sent, delivery ' || p_delivery, 'system',
                          ARRAY[w.held_id, wallet.system_account('revenue', text_route)], ARRAY[-h.amount, h.amount],
                          p_route => text_route, p_delivery => p_delivery, p_settles => h.id);
    PERFORM wallet.request_top_up(h.channel_id, w.paid + w.promotional, 'below threshold');
    RETURN posted.id;
END $$;

-- Gives the delivery's hold back to the accounts it came from. Idempotent; NULL without a hold.
-- Raises WL007 when the hold was captured.
CREATE FUNCTION wallet.release(p_delivery bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    h wallet.transfers;
    w record;
    settled wallet.transfers;
    accounts bigint[];
    amounts bigint[];
    posted wallet.posted;
BEGIN
    SELECT * INTO h FROM wallet.transfers t WHERE t.idempotency_key = 'hold:' || p_delivery;
    IF NOT FOUND THEN RETURN NULL; END IF;
    SELECT * INTO w FROM wallet.lock_wallet(h.channel_id);
    SELECT * INTO settled FROM wallet.transfers s WHERE s.settles = h.id;
    IF FOUND THEN
        IF settled.kind = 'release' THEN RETURN settled.id; END IF;
        RAISE EXCEPTION 'the hold of delivery % was captured', p_delivery
            USING ERRCODE = 'WL007', DETAIL = p_delivery || '|captured';
    END IF;
    SELECT array_agg(e.account_id ORDER BY e.account_id), array_agg(-e.amount ORDER BY e.account_id)
    INTO accounts, amounts
    FROM wallet.entries e WHERE e.transfer_id = h.id;
    posted := wallet.post('release:' || p_delivery, 'release', h.channel_id,
                          coalesce(h.route, 'text') || ' not sent, hold released, delivery ' || p_delivery, 'system',
                          accounts, amounts, p_route => h.route, p_delivery => p_delivery, p_settles => h.id);
    RETURN posted.id;
END $$;

-- A channel's wallet now (zeros before its first use). Raises WL002 for an unknown channel.
CREATE FUNCTION wallet.balance(p_channel bigint, OUT paid bigint, OUT promotional bigint, OUT held bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    SELECT coalesce(sum(a.balance) FILTER (WHERE a.kind = 'paid'), 0),
           coalesce(sum(a.balance) FILTER (WHERE a.kind = 'promotional'), 0),
           coalesce(sum(a.balance) FILTER (WHERE a.kind = 'held'), 0)
    INTO paid, promotional, held
    FROM wallet.accounts a WHERE a.channel_id = p_channel;
    IF NOT EXISTS (SELECT 1 FROM public.channels c WHERE c.id = p_channel) THEN
        RAISE EXCEPTION 'no channel with id %', p_channel USING ERRCODE = 'WL002', DETAIL = p_channel::text;
    END IF;
END $$;

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Operators: credits, adjustments, reversals. Each is a transfer with a reason and an author.

-- Credit to 'paid' (from 'adjustments') or 'promotional' (from 'promotional_expense').
CREATE FUNCTION wallet.credit(p_channel bigint, p_amount bigint, p_bucket text, p_reason text, p_by text,
                              p_key text DEFAULT NULL)
RETURNS wallet.posted LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    w record;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'a credit must be positive' USING ERRCODE = 'WL008';
    END IF;
    IF p_bucket NOT IN ('paid', 'promotional') THEN
        RAISE EXCEPTION 'credit to paid or promotional, not %', p_bucket USING ERRCODE = 'WL008';
    END IF;
    SELECT * INTO w FROM wallet.lock_wallet(p_channel);
    RETURN wallet.post(coalesce(p_key, 'credit:' || gen_random_uuid()), 'credit', p_channel, p_reason, p_by,
        CASE p_bucket WHEN 'paid' THEN ARRAY[wallet.system_account('adjustments'), w.paid_id]
                      ELSE ARRAY[wallet.system_account('promotional_expense'), w.promotional_id] END,
        ARRAY[-p_amount, p_amount]);
END $$;

-- Correction of the paid balance, up or down, against 'adjustments'. Cannot go below zero.
CREATE FUNCTION wallet.adjust(p_channel bigint, p_amount bigint, p_reason text, p_by text, p_key text DEFAULT NULL)
RETURNS wallet.posted LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    w record;
BEGIN
    IF p_amount IS NULL OR p_amount = 0 THEN
        RAISE EXCEPTION 'an adjustment must not be zero' USING ERRCODE = 'WL008';
    END IF;
    SELECT * INTO w FROM wallet.lock_wallet(p_channel);
    IF w.paid + p_amount < 0 THEN
        RAISE EXCEPTION 'the paid balance is %, it cannot go down by %', w.paid, -p_amount
            USING ERRCODE = '23514', CONSTRAINT = 'accounts_floor';
    END IF;
    RETURN wallet.post(coalesce(p_key, 'adjustment:' || gen_random_uuid()), 'adjustment', p_channel, p_reason, p_by,
        ARRAY[wallet.system_account('adjustments'), w.paid_id], ARRAY[-p_amount, p_amount]);
END $$;

-- The exact opposite of a credit, adjustment, top-up or monthly credit, once.
CREATE FUNCTION wallet.reverse(p_transfer bigint, p_reason text, p_by text)
RETURNS wallet.posted LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    t wallet.transfers;
    w record;
    reversal_id bigint;
    accounts bigint[];
    amounts bigint[];
    short bigint;
BEGIN
    SELECT * INTO t FROM wallet.transfers x WHERE x.id = p_transfer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no transfer with id %', p_transfer USING ERRCODE = 'WL004', DETAIL = p_transfer::text;
    END IF;
    IF t.kind NOT IN ('credit', 'adjustment', 'top_up', 'monthly_credit') THEN
        RAISE EXCEPTION '% transfers are not reversed (holds settle by capture or release; a reversal is final: post a new credit instead)', t.kind
            USING ERRCODE = 'WL005', DETAIL = p_transfer::text;
    END IF;
    SELECT * INTO w FROM wallet.lock_wallet(t.channel_id);
    SELECT x.id INTO reversal_id FROM wallet.transfers x WHERE x.reverses = t.id;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer % was already reversed by transfer %', t.id, reversal_id
            USING ERRCODE = 'WL006', DETAIL = t.id || '|' || reversal_id;
    END IF;
    SELECT array_agg(e.account_id ORDER BY e.account_id), array_agg(-e.amount ORDER BY e.account_id)
    INTO accounts, amounts
    FROM wallet.entries e WHERE e.transfer_id = t.id;
    SELECT min(a.balance + l.amount) INTO short
    FROM unnest(accounts, amounts) AS l(account, amount) JOIN wallet.accounts a ON a.id = l.account
    WHERE a.floor IS NOT NULL;
    IF short < 0 THEN
        RAISE EXCEPTION 'reversing transfer % would take the wallet below zero: it was already spent', t.id
            USING ERRCODE = '23514', CONSTRAINT = 'accounts_floor';
    END IF;
    RETURN wallet.post('reversal:' || t.id, 'reversal', t.channel_id, p_reason, p_by, accounts, amounts,
                       p_reverses => t.id);
END $$;

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Monthly credit: promotional credit to every paid-plan channel once per calendar month (UTC).

-- Grants `p_amount` to the channel for the month containing `p_month`, once: returns the
-- transfer id, or NULL when that month was already granted (by anyone, with any amount).
CREATE FUNCTION wallet.grant_monthly_credit(p_channel bigint, p_month date, p_amount bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    first_day date := date_trunc('month', p_month)::date;
    w record;
    posted wallet.posted;
BEGIN
    SELECT * INTO w FROM wallet.lock_wallet(p_channel);
    IF EXISTS (SELECT 1 FROM wallet.monthly_credits m WHERE m.channel_id = p_channel AND m.month = first_day) THEN
        RETURN NULL;
    END IF;
    posted := wallet.post('monthly_credit:' || p_channel || ':' || to_char(first_day, 'YYYY-MM'), 'monthly_credit',
                          p_channel, 'monthly SMS credit for ' || to_char(first_day, 'YYYY-MM'), 'system',
                          ARRAY[wallet.system_account('promotional_expense'), w.promotional_id], ARRAY[-p_amount, p_amount]);
    INSERT INTO wallet.monthly_credits (channel_id, month, amount_micros, transfer_id)
    VALUES (p_channel, first_day, p_amount, posted.id);
    RETURN posted.id;
END $$;

-- Grants the month's credit to up to `p_limit` paid-plan channels that do not have it yet.
-- Returns how many it granted; call again until it returns 0.
CREATE FUNCTION wallet.grant_monthly_credits(p_month date, p_amount bigint, p_limit integer DEFAULT 200) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    first_day date := date_trunc('month', p_month)::date;
    channel bigint;
    granted integer := 0;
BEGIN
    FOR channel IN
        SELECT c.id FROM public.channels c
        WHERE c.plan = 'paid'
          AND NOT EXISTS (SELECT 1 FROM wallet.monthly_credits m WHERE m.channel_id = c.id AND m.month = first_day)
        ORDER BY c.id LIMIT p_limit
    LOOP
        IF wallet.grant_monthly_credit(channel, first_day, p_amount) IS NOT NULL THEN
            granted := granted + 1;
        END IF;
    END LOOP;
    RETURN granted;
END $$;

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Top-up processing (the wallet.top_up job). Three steps around the payment provider's call:
--   top_up_begin      (before the call) opens or reuses the attempt, counts the call;
--   top_up_succeeded  (after) credits the wallet — in the transaction that completes the job;
--   top_up_declined / top_up_failed  (after) record why and back off.

-- Returns what to charge. `reconcile` is true when this attempt's key may already have reached
-- the provider (an earlier call's answer was never heard): look it up before calling again.
-- `state` other than 'charging' means there is nothing to do.
CREATE FUNCTION wallet.top_up_begin(p_top_up bigint,
    OUT state text, OUT attempt_id uuid, OUT reconcile boolean, OUT amount_micros bigint,
    OUT payment_customer text, OUT channel_id bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    t wallet.top_ups;
    a wallet.top_up_attempts;
BEGIN
    SELECT * INTO t FROM wallet.top_ups x WHERE x.id = p_top_up FOR UPDATE;
    IF NOT FOUND THEN
        state := 'missing';
        RETURN;
    END IF;
    state := t.state;
    amount_micros := t.amount_micros;
    channel_id := t.channel_id;
    IF t.state NOT IN ('pending', 'charging') THEN RETURN; END IF;
    SELECT r.payment_customer INTO payment_customer FROM wallet.auto_charge r WHERE r.channel_id = t.channel_id;
    SELECT * INTO a FROM wallet.top_up_attempts x WHERE x.top_up_id = t.id AND x.state = 'started';
    IF NOT FOUND THEN
        INSERT INTO wallet.top_up_attempts (top_up_id) VALUES (t.id) RETURNING * INTO a;
    END IF;
    reconcile := a.calls > 0;
    attempt_id := a.id;
    UPDATE wallet.top_up_attempts x SET calls = x.calls + 1 WHERE x.id = a.id;
    UPDATE wallet.top_ups x SET state = 'charging' WHERE x.id = t.id;
    state := 'charging';
END $$;

-- The provider charged: credit the wallet (top_up_clearing → paid) once, whoever calls twice.
CREATE FUNCTION wallet.top_up_succeeded(p_attempt uuid, p_payment_id text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    a wallet.top_up_attempts;
    t wallet.top_ups;
    w record;
    posted wallet.posted;
BEGIN
    SELECT * INTO a FROM wallet.top_up_attempts x WHERE x.id = p_attempt;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no top-up attempt %', p_attempt USING ERRCODE = 'WL008';
    END IF;
    SELECT * INTO t FROM wallet.top_ups x WHERE x.id = a.top_up_id FOR UPDATE;
    IF t.state = 'succeeded' THEN RETURN t.transfer_id; END IF;
    SELECT * INTO w FROM wallet.lock_wallet(t.channel_id);
    posted := wallet.post('top_up:' || t.id, 'top_up', t.channel_id,
                          'auto-charge top-up (payment ' || coalesce(p_payment_id, 'unknown') || ')', 'system',
                          ARRAY[wallet.system_account('top_up_clearing'), w.paid_id], ARRAY[-t.amount_micros, t.amount_micros],
                          p_top_up => t.id);
    UPDATE wallet.top_up_attempts x SET state = 'succeeded', provider_payment_id = p_payment_id, finished_at = now()
    WHERE x.id = a.id;
    UPDATE wallet.top_ups x SET state = 'succeeded', transfer_id = posted.id, failure = NULL, finished_at = now()
    WHERE x.id = t.id;
    UPDATE wallet.auto_charge r SET consecutive_declines = 0, retry_after = NULL WHERE r.channel_id = t.channel_id;
    RETURN posted.id;
END $$;

-- The provider declined (or refused for good): record why, and hold off new top-ups for
-- `p_backoff` × 2^(consecutive declines − 1), capped at `p_max_backoff`.
CREATE FUNCTION wallet.top_up_declined(p_attempt uuid, p_payment_id text, p_reason text, p_final_state text,
                                       p_backoff interval, p_max_backoff interval) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    a wallet.top_up_attempts;
    t wallet.top_ups;
    declines integer;
BEGIN
    IF p_final_state NOT IN ('declined', 'failed') THEN
        RAISE EXCEPTION 'a top-up ends declined or failed, not %', p_final_state USING ERRCODE = 'WL008';
    END IF;
    SELECT * INTO a FROM wallet.top_up_attempts x WHERE x.id = p_attempt;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no top-up attempt %', p_attempt USING ERRCODE = 'WL008';
    END IF;
    SELECT * INTO t FROM wallet.top_ups x WHERE x.id = a.top_up_id FOR UPDATE;
    IF t.state NOT IN ('pending', 'charging') THEN RETURN; END IF;
    UPDATE wallet.top_up_attempts x SET state = p_final_state, provider_payment_id = p_payment_id,
        failure = p_reason, finished_at = now()
    WHERE x.id = a.id;
    UPDATE wallet.top_ups x SET state = p_final_state, failure = p_reason, finished_at = now() WHERE x.id = t.id;
    UPDATE wallet.auto_charge r SET consecutive_declines = r.consecutive_declines + 1
    WHERE r.channel_id = t.channel_id
    RETURNING r.consecutive_declines INTO declines;
    UPDATE wallet.auto_charge r
    SET retry_after = now() + least(p_backoff * power(2, least(coalesce(declines, 1) - 1, 20)), p_max_backoff)
    WHERE r.channel_id = t.channel_id;
END $$;

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Finance: read-only views over the ledger (docs/finance.md shows each with an example).
-- Amounts are micro-USD; finance.usd(x) turns them into dollars.

CREATE FUNCTION finance.usd(micros bigint) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT round(micros / 1000000.0, 6)
$$;

-- Every account: what went in, what went out, the balance (the sum of its entries) and, for
-- wallet accounts, the cached balance the database maintains.
CREATE VIEW finance.account_balances AS
SELECT a.id AS account_id,
       CASE WHEN a.channel_id IS NULL THEN a.kind || coalesce(':' || a.route, '')
            ELSE 'channel ' || a.channel_id || ' ' || a.kind END AS account,
       a.kind, a.route, a.channel_id,
       coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0)::bigint AS money_in_micros,
       coalesce(-sum(e.amount) FILTER (WHERE e.amount < 0), 0)::bigint AS money_out_micros,
       coalesce(sum(e.amount), 0)::bigint AS balance_micros,
       CASE WHEN a.cached THEN a.balance END AS cached_balance_micros,
       count(e.id) AS entries
FROM wallet.accounts a
LEFT JOIN wallet.entries e ON e.account_id = a.id
GROUP BY a.id;

-- The trial balance: totals per kind of account. The balances sum to zero, always.
CREATE VIEW finance.trial_balance AS
SELECT kind, route,
       count(*) AS accounts,
       sum(money_in_micros)::bigint AS money_in_micros,
       sum(money_out_micros)::bigint AS money_out_micros,
       sum(balance_micros)::bigint AS balance_micros
FROM finance.account_balances
GROUP BY kind, route;

-- A wallet's statement: one line per transfer that touched it, in the order it was applied
-- (`sequence`), with the change to each bucket and the balances after it. Filter on channel_id.
CREATE VIEW finance.statement AS
WITH lines AS (
    SELECT t.channel_id, t.id AS transfer_id, t.created_at AS at, t.kind, t.reason, t.route, t.delivery_id,
           t.top_up_id, t.reverses, t.created_by,
           min(e.id) AS first_entry,
           coalesce(sum(e.amount) FILTER (WHERE a.kind = 'promotional'), 0)::bigint AS promotional_change_micros,
           coalesce(sum(e.amount) FILTER (WHERE a.kind = 'paid'), 0)::bigint AS paid_change_micros,
           coalesce(sum(e.amount) FILTER (WHERE a.kind = 'held'), 0)::bigint AS held_change_micros
    FROM wallet.transfers t
    JOIN wallet.entries e ON e.transfer_id = t.id
    JOIN wallet.accounts a ON a.id = e.account_id AND a.channel_id IS NOT NULL
    GROUP BY t.id
)
SELECT channel_id, first_entry AS sequence, transfer_id, at, kind, reason, route, delivery_id, top_up_id, reverses, created_by,
       promotional_change_micros, paid_change_micros, held_change_micros,
       (sum(promotional_change_micros) OVER w)::bigint AS promotional_after_micros,
       (sum(paid_change_micros) OVER w)::bigint AS paid_after_micros,
       (sum(held_change_micros) OVER w)::bigint AS held_after_micros,
       (sum(promotional_change_micros + paid_change_micros) OVER w)::bigint AS available_after_micros
FROM lines
WINDOW w AS (PARTITION BY channel_id ORDER BY first_entry ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

-- Holds not yet captured or released.
CREATE VIEW finance.open_holds AS
SELECT h.channel_id, h.id AS transfer_id, h.delivery_id, h.route, h.amount AS amount_micros, h.created_at,
       now() - h.created_at AS age
FROM wallet.transfers h
WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM wallet.transfers s WHERE s.settles = h.id);

-- Integrity checks: each view must return no rows.
CREATE VIEW finance.check_unbalanced_transfers AS
SELECT t.id AS transfer_id, t.kind, t.amount AS amount_micros, count(e.id) AS entries,
       coalesce(sum(e.amount), 0)::bigint AS sum_micros
FROM wallet.transfers t
LEFT JOIN wallet.entries e ON e.transfer_id = t.id
GROUP BY t.id
HAVING count(e.id) < 2 OR coalesce(sum(e.amount), 0) <> 0
    OR coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) <> t.amount;

CREATE VIEW finance.check_balance_cache AS
SELECT b.account_id, b.account, b.cached_balance_micros, b.balance_micros AS sum_of_entries_micros,
       a.version, b.entries
FROM finance.account_balances b
JOIN wallet.accounts a ON a.id = b.account_id
WHERE a.cached AND (b.cached_balance_micros <> b.balance_micros OR a.version <> b.entries
                    OR (a.floor IS NOT NULL AND a.balance < a.floor)
                    OR a.balance IS DISTINCT FROM (SELECT e.balance_after FROM wallet.entries e
                                                   WHERE e.account_id = a.id ORDER BY e.account_version DESC LIMIT 1)
                       AND b.entries > 0);

CREATE VIEW finance.check_held_matches_open_holds AS
SELECT a.channel_id, a.balance AS held_micros, coalesce(o.open_micros, 0) AS open_holds_micros
FROM wallet.accounts a
LEFT JOIN (SELECT channel_id, sum(amount_micros)::bigint AS open_micros FROM finance.open_holds GROUP BY channel_id) o
       ON o.channel_id = a.channel_id
WHERE a.kind = 'held' AND a.balance <> coalesce(o.open_micros, 0);

CREATE VIEW finance.check_stale_holds AS
SELECT * FROM finance.open_holds WHERE created_at < now() - interval '1 day';

CREATE VIEW finance.check_transfers_without_delivery AS
SELECT t.id AS transfer_id, t.kind, t.channel_id, t.delivery_id, d.channel_id AS delivery_channel_id
FROM wallet.transfers t
LEFT JOIN public.deliveries d ON d.id = t.delivery_id
WHERE t.delivery_id IS NOT NULL AND (d.id IS NULL OR d.channel_id <> t.channel_id);

-- Sent texts with a price must be captured at that price; texts that were not sent must not be.
CREATE VIEW finance.check_deliveries_without_charge AS
SELECT d.id AS delivery_id, d.channel_id, d.route, d.status, d.price_micros,
       c.amount AS captured_micros,
       CASE WHEN c.id IS NULL THEN 'sent but not charged'
            WHEN d.status IN ('failed', 'excluded') THEN 'charged but not sent'
            ELSE 'charged a different amount' END AS problem
FROM public.deliveries d
LEFT JOIN wallet.transfers c ON c.idempotency_key = 'capture:' || d.id
WHERE (d.status IN ('sent', 'delivered') AND d.price_micros > 0 AND c.id IS NULL)
   OR (c.id IS NOT NULL AND d.status IN ('failed', 'excluded'))
   OR (c.id IS NOT NULL AND c.amount <> d.price_micros);

CREATE VIEW finance.check_top_ups AS
SELECT u.id AS top_up_id, u.channel_id, u.state, u.amount_micros, t.amount AS credited_micros,
       CASE WHEN u.state = 'succeeded' AND (t.id IS NULL OR t.amount <> u.amount_micros) THEN 'succeeded but not credited in full'
            WHEN u.state <> 'succeeded' AND t.id IS NOT NULL THEN 'credited but not succeeded'
            ELSE 'in flight for more than a day' END AS problem
FROM wallet.top_ups u
LEFT JOIN wallet.transfers t ON t.idempotency_key = 'top_up:' || u.id
WHERE (u.state = 'succeeded' AND (t.id IS NULL OR t.amount <> u.amount_micros))
   OR (u.state <> 'succeeded' AND t.id IS NOT NULL)
   OR (u.state IN ('pending', 'charging') AND u.requested_at < now() - interval '1 day');

CREATE VIEW finance.check_monthly_credits AS
SELECT t.id AS transfer_id, t.channel_id, t.idempotency_key, m.month
FROM wallet.transfers t
LEFT JOIN wallet.monthly_credits m ON m.transfer_id = t.id
WHERE t.kind = 'monthly_credit' AND m.transfer_id IS NULL;

-- All of the above in one: the ledger is sound when this returns no rows.
CREATE VIEW finance.integrity_checks AS
SELECT 'unbalanced transfer' AS check_name, 'transfer ' || transfer_id AS subject,
       entries || ' entries summing to ' || sum_micros AS detail FROM finance.check_unbalanced_transfers
UNION ALL
SELECT 'balance cache', account, 'cached ' || coalesce(cached_balance_micros::text, 'none') || ', entries sum to ' || sum_of_entries_micros
FROM finance.check_balance_cache
UNION ALL
SELECT 'held balance', 'channel ' || channel_id, 'held ' || held_micros || ', open holds ' || open_holds_micros
FROM finance.check_held_matches_open_holds
UNION ALL
SELECT 'stale hold', 'delivery ' || delivery_id, 'held ' || amount_micros || ' since ' || created_at FROM finance.check_stale_holds
UNION ALL
SELECT 'transfer without delivery', 'transfer ' || transfer_id, kind || ' for delivery ' || delivery_id
FROM finance.check_transfers_without_delivery
UNION ALL
SELECT 'delivery charge', 'delivery ' || delivery_id, problem || ' (' || status || ', price ' || price_micros || ')'
FROM finance.check_deliveries_without_charge
UNION ALL
SELECT 'top-up', 'top-up ' || top_up_id, problem FROM finance.check_top_ups
UNION ALL
SELECT 'monthly credit', 'transfer ' || transfer_id, 'monthly credit without its (channel, month) record'
FROM finance.check_monthly_credits;

-- Per channel and calendar month (UTC): credit granted, texts sent, what they cost (and from
-- which bucket), and what auto-charge topped up.
CREATE VIEW finance.monthly_report AS
WITH captures AS (
    SELECT c.channel_id, date_trunc('month', c.created_at AT TIME ZONE 'UTC')::date AS month, c.amount,
           coalesce(-(SELECT sum(e.amount) FROM wallet.entries e JOIN wallet.accounts a ON a.id = e.account_id
                      WHERE e.transfer_id = c.settles AND a.kind = 'promotional'), 0) AS from_promotional
    FROM wallet.transfers c WHERE c.kind = 'capture'
),
movements AS (
    SELECT channel_id, month, 0::bigint AS monthly_credit, 0::bigint AS other_credit, 0::bigint AS topped_up,
           1 AS texts, amount AS spent, from_promotional AS spent_promotional
    FROM captures
    UNION ALL
    SELECT t.channel_id, date_trunc('month', t.created_at AT TIME ZONE 'UTC')::date,
           CASE WHEN t.kind = 'monthly_credit' THEN t.amount ELSE 0 END,
           CASE WHEN t.kind IN ('credit', 'adjustment', 'reversal') THEN
                    (SELECT sum(e.amount) FROM wallet.entries e JOIN wallet.accounts a ON a.id = e.account_id
                     WHERE e.transfer_id = t.id AND a.channel_id IS NOT NULL) ELSE 0 END,
           CASE WHEN t.kind = 'top_up' THEN t.amount ELSE 0 END,
           0, 0, 0
    FROM wallet.transfers t WHERE t.kind IN ('monthly_credit', 'credit', 'adjustment', 'reversal', 'top_up')
)
SELECT channel_id, month,
       sum(monthly_credit)::bigint AS monthly_credit_micros,
       sum(other_credit)::bigint AS operator_credit_micros,
       sum(texts)::bigint AS texts_charged,
       sum(spent)::bigint AS spent_micros,
       sum(spent_promotional)::bigint AS spent_from_promotional_micros,
       (sum(spent) - sum(spent_promotional))::bigint AS spent_from_paid_micros,
       sum(topped_up)::bigint AS topped_up_micros
FROM movements
GROUP BY channel_id, month;

-- Texts per channel, month, route and country: how many, and what they were charged.
CREATE VIEW finance.monthly_texts AS
SELECT d.channel_id, date_trunc('month', d.created_at AT TIME ZONE 'UTC')::date AS month, d.route,
       coalesce(d.country, '?') AS country,
       count(*) FILTER (WHERE d.status IN ('sent', 'delivered')) AS texts_sent,
       count(*) FILTER (WHERE d.status IN ('failed', 'excluded')) AS texts_not_sent,
       coalesce(sum(d.segments) FILTER (WHERE d.status IN ('sent', 'delivered')), 0)::bigint AS segments,
       coalesce(sum(c.amount), 0)::bigint AS charged_micros
FROM public.deliveries d
LEFT JOIN wallet.transfers c ON c.idempotency_key = 'capture:' || d.id
WHERE d.route IN ('messenger', 'sms', 'lms', 'email')
GROUP BY 1, 2, 3, 4;

-- ─────────────────────────────────────────────────────────────────────────────────────────────
-- Privileges. The product's role reads the ledger and posts only through the functions; it has
-- no INSERT, UPDATE or DELETE on accounts, transfers or entries. Finance reads the views only.
REVOKE ALL ON ALL TABLES IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA wallet FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA finance FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA finance FROM PUBLIC;

GRANT USAGE ON SCHEMA wallet TO followup_app;
GRANT SELECT ON ALL TABLES IN SCHEMA wallet TO followup_app;
GRANT INSERT ON wallet.prices TO followup_app;
GRANT INSERT, UPDATE ON wallet.auto_charge TO followup_app;
GRANT EXECUTE ON FUNCTION
    wallet.price(text, text, integer, timestamptz),
    wallet.hold(bigint, bigint, bigint, text),
    wallet.capture(bigint),
    wallet.release(bigint),
    wallet.balance(bigint),
    wallet.credit(bigint, bigint, text, text, text, text),
    wallet.adjust(bigint, bigint, text, text, text),
    wallet.reverse(bigint, text, text),
    wallet.grant_monthly_credit(bigint, date, bigint),
    wallet.grant_monthly_credits(date, bigint, integer),
    wallet.top_up_begin(bigint),
    wallet.top_up_succeeded(uuid, text),
    wallet.top_up_declined(uuid, text, text, text, interval, interval)
TO followup_app;
GRANT USAGE ON SCHEMA finance TO followup_app, followup_finance;
GRANT SELECT ON ALL TABLES IN SCHEMA finance TO followup_app, followup_finance;
GRANT EXECUTE ON FUNCTION finance.usd(bigint) TO followup_app, followup_finance;
