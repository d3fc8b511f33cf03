-- "Every transfer has its legs" is now kept by refusing, at once, any transfer not written by
-- wallet.post (which writes the legs in the same call, checked by entries_balanced), instead of
-- a deferred constraint trigger that re-read every transfer's legs at commit. That trigger and
-- its query cost about 35 µs per transfer, two per text: a tenth of the wallet's work for a
-- text (measured with pgbench, a hold and a capture: 725 → 655 µs of Postgres CPU).
--
-- Also in wallet.post: the legs are added up in PL/pgSQL (no query), as before the same rules;
-- and the accounts are no longer locked by a statement before the legs are written: the legs,
-- written in ascending account order, lock them in that order (the statement's generic plan,
-- since 0011, scanned every account).
DROP TRIGGER transfers_balanced ON wallet.transfers;
DROP FUNCTION wallet.check_balanced();

CREATE FUNCTION wallet.refuse_transfer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transfers are posted by wallet functions only, with their legs' USING ERRCODE = 'WL009';
END $$;
-- The WHEN is evaluated without calling the function: a posting pays nothing for the guard.
CREATE TRIGGER transfers_posted BEFORE INSERT ON wallet.transfers FOR EACH ROW
    WHEN (coalesce(current_setting('wallet.posting_transfer', true), '') <> 'on')
    EXECUTE FUNCTION wallet.refuse_transfer();

CREATE OR REPLACE FUNCTION wallet.post(
    p_key text, p_kind text, p_channel bigint, p_reason text, p_created_by text,
    p_accounts bigint[], p_amounts bigint[],
    p_route text DEFAULT NULL, p_delivery bigint DEFAULT NULL, p_top_up bigint DEFAULT NULL,
    p_settles bigint DEFAULT NULL, p_reverses bigint DEFAULT NULL
) RETURNS wallet.posted LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
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
    INSERT INTO wallet.entries (transfer_id, account_id, amount)
    SELECT new_id, l.account, l.amount FROM unnest(p_accounts, p_amounts) AS l(account, amount) ORDER BY l.account;
    PERFORM set_config('wallet.posting', '', true);
    RETURN ROW(new_id, p_kind, positive, true)::wallet.posted;
END $$;

REVOKE ALL ON FUNCTION wallet.refuse_transfer() FROM PUBLIC;
