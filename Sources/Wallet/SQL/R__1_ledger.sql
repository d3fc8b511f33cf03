-- The ledger's own rules (repeatable: re-applied whenever this file changes): how an entry moves
-- its account, what refuses to change, and wallet.post, the one way transfers and entries are
-- written. None of these is granted to any role: the wallet's entry points (R__3_texts.sql,
-- R__4_operators.sql, R__5_credits_and_top_ups.sql) call them as the owner.
--
-- Every function pins `search_path = pg_catalog, pg_temp` and names every table with its schema:
-- nothing resolves through a schema another role can create objects in.

-- Applies an entry to its account (wallet accounts: balance, version, floor by CHECK), and lets in
-- only the entries of the transfer being posted by wallet.post in this transaction. wallet.post
-- gives each entry its transfer's channel; an insert that leaves it out gets it from the
-- transfer (the foreign key (transfer_id, channel_id) checks a given one).
CREATE OR REPLACE FUNCTION wallet.apply_entry() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.transfer_id IS DISTINCT FROM nullif(current_setting('wallet.posting', true), '')::bigint THEN
        RAISE EXCEPTION 'entries are posted by wallet functions only, with their transfer'
            USING ERRCODE = 'WL009';
    END IF;
    IF NEW.channel_id IS NULL THEN
        NEW.channel_id := (SELECT t.channel_id FROM wallet.transfers t WHERE t.id = NEW.transfer_id);
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
CREATE OR REPLACE TRIGGER entries_apply BEFORE INSERT ON wallet.entries FOR EACH ROW EXECUTE FUNCTION wallet.apply_entry();

-- The cached balance and version change only through an entry (the trigger above, one level down).
CREATE OR REPLACE FUNCTION wallet.guard_account() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
-- Only statements outside a trigger reach the function (entries update balances from
-- wallet.apply_entry, one trigger level down); deleting an account is refused always.
CREATE OR REPLACE TRIGGER accounts_guard BEFORE UPDATE ON wallet.accounts
    FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION wallet.guard_account();
CREATE OR REPLACE TRIGGER accounts_no_delete BEFORE DELETE ON wallet.accounts
    FOR EACH ROW EXECUTE FUNCTION wallet.guard_account();

-- Append-only history.
CREATE OR REPLACE FUNCTION wallet.append_only() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: post a reversal instead of changing history', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME
        USING ERRCODE = 'WL009';
END $$;
CREATE OR REPLACE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON wallet.transfers FOR EACH ROW EXECUTE FUNCTION wallet.append_only();
CREATE OR REPLACE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON wallet.transfers FOR EACH STATEMENT EXECUTE FUNCTION wallet.append_only();
CREATE OR REPLACE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON wallet.entries FOR EACH ROW EXECUTE FUNCTION wallet.append_only();
CREATE OR REPLACE TRIGGER entries_no_truncate BEFORE TRUNCATE ON wallet.entries FOR EACH STATEMENT EXECUTE FUNCTION wallet.append_only();
CREATE OR REPLACE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON wallet.accounts FOR EACH STATEMENT EXECUTE FUNCTION wallet.append_only();
CREATE OR REPLACE TRIGGER prices_append_only BEFORE UPDATE OR DELETE ON wallet.prices FOR EACH ROW EXECUTE FUNCTION wallet.append_only();
CREATE OR REPLACE TRIGGER monthly_credits_append_only BEFORE UPDATE OR DELETE ON wallet.monthly_credits FOR EACH ROW EXECUTE FUNCTION wallet.append_only();

-- At the end of every statement that writes legs: each transfer it wrote legs for has all its
-- legs in this statement (none older), they sum to zero, and the positive ones sum to the
-- transfer's amount. Point lookups only.
CREATE OR REPLACE FUNCTION wallet.check_entries_balanced() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    legs record;
    expected bigint;
BEGIN
    FOR legs IN
        SELECT a.transfer_id, sum(a.amount) AS total, coalesce(sum(a.amount) FILTER (WHERE a.amount > 0), 0) AS positive,
               min(a.id) AS first_id
        FROM added a GROUP BY a.transfer_id
    LOOP
        SELECT t.amount INTO expected FROM wallet.transfers t WHERE t.id = legs.transfer_id;
        IF legs.total <> 0 OR legs.positive <> expected
           OR EXISTS (SELECT 1 FROM wallet.entries e WHERE e.transfer_id = legs.transfer_id AND e.id < legs.first_id) THEN
            RAISE EXCEPTION 'transfer % is unbalanced (legs sum %, amount %, or legs added to it later)',
                legs.transfer_id, legs.total, expected USING ERRCODE = 'WL010';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER entries_balanced AFTER INSERT ON wallet.entries
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION wallet.check_entries_balanced();

-- Transfers are written only by wallet.post (which writes their legs in the same call). The WHEN
-- is evaluated without calling the function: a posting pays nothing for the guard.
CREATE OR REPLACE FUNCTION wallet.refuse_transfer() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'transfers are posted by wallet functions only, with their legs' USING ERRCODE = 'WL009';
END $$;
-- The WHEN is evaluated without calling the function: a posting pays nothing for the guard.
CREATE OR REPLACE TRIGGER transfers_posted BEFORE INSERT ON wallet.transfers FOR EACH ROW
    WHEN (coalesce(current_setting('wallet.posting_transfer', true), '') <> 'on')
    EXECUTE FUNCTION wallet.refuse_transfer();

-- The one way entries are written. Legs are (account, signed amount) pairs; they must sum to zero.
-- The same key again returns the first transfer when it was the same (kind, wallet, amount), and
-- raises WL001 when it was not. Locks the wallet accounts touched in ascending id order.
-- Generic plans: every statement here is a point lookup or a small insert, and the custom plan
-- of a statement over the legs' array was planned again on every posting.
CREATE OR REPLACE FUNCTION wallet.post(
    p_key text, p_kind text, p_channel bigint, p_reason text, p_created_by text,
    p_accounts bigint[], p_amounts bigint[],
    p_route text DEFAULT NULL, p_delivery bigint DEFAULT NULL, p_top_up bigint DEFAULT NULL,
    p_settles bigint DEFAULT NULL, p_reverses bigint DEFAULT NULL
) RETURNS wallet.posted LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    total bigint := 0;
    positive bigint := 0;
    leg bigint;
    new_id bigint;
    existing wallet.transfers;
BEGIN
    IF cardinality(p_accounts) IS DISTINCT FROM cardinality(p_amounts) OR cardinality(p_accounts) < 2 THEN
        RAISE EXCEPTION 'a transfer needs at least two legs, one amount per account' USING ERRCODE = 'WL008';
    END IF;
    FOREACH leg IN ARRAY p_amounts LOOP
        IF leg IS NULL OR leg = 0 THEN
            total := NULL;
            EXIT;
        END IF;
        total := total + leg;
        IF leg > 0 THEN positive := positive + leg; END IF;
    END LOOP;
    IF total IS DISTINCT FROM 0 OR positive = 0 THEN
        RAISE EXCEPTION 'the legs of a transfer must be non-zero and sum to zero' USING ERRCODE = 'WL008';
    END IF;
    PERFORM set_config('wallet.posting_transfer', 'on', true);
    INSERT INTO wallet.transfers (idempotency_key, kind, channel_id, amount, route, delivery_id, top_up_id,
                                  settles, reverses, reason, created_by)
    VALUES (p_key, p_kind, p_channel, positive, p_route, p_delivery, p_top_up, p_settles, p_reverses,
            p_reason, coalesce(p_created_by, 'system'))
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING transfers.id INTO new_id;
    PERFORM set_config('wallet.posting_transfer', '', true);
    IF new_id IS NULL THEN
        SELECT * INTO existing FROM wallet.transfers t WHERE t.idempotency_key = p_key;
        IF existing.kind <> p_kind OR existing.channel_id <> p_channel OR existing.amount <> positive THEN
            RAISE EXCEPTION 'idempotency key already used for a different transfer'
                USING ERRCODE = 'WL001', DETAIL = p_key;
        END IF;
        RETURN ROW(existing.id, existing.kind, existing.amount, false)::wallet.posted;
    END IF;
    -- The legs go in ascending account order, and each one's trigger updates (so locks) its
    -- wallet account: the lock order every wallet operation uses, with no statement of its own.
    PERFORM set_config('wallet.posting', new_id::text, true);
    INSERT INTO wallet.entries (transfer_id, channel_id, account_id, amount)
    SELECT new_id, p_channel, l.account, l.amount FROM unnest(p_accounts, p_amounts) AS l(account, amount) ORDER BY l.account;
    PERFORM set_config('wallet.posting', '', true);
    RETURN ROW(new_id, p_kind, positive, true)::wallet.posted;
END $$;

-- A channel's three wallet accounts, created on first use. Raises WL002 for an unknown channel.
CREATE OR REPLACE FUNCTION wallet.channel_accounts(p_channel bigint, OUT paid bigint, OUT promotional bigint, OUT held bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
CREATE OR REPLACE FUNCTION wallet.lock_wallet(p_channel bigint,
    OUT paid_id bigint, OUT promotional_id bigint, OUT held_id bigint,
    OUT paid bigint, OUT promotional bigint, OUT held bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
CREATE OR REPLACE FUNCTION wallet.system_account(p_kind text, p_route text DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
