-- The ledger work of every text (a hold before the provider call, a capture after it) with
-- fewer statements, for the end-to-end throughput of follow-ups. The rules are unchanged:
--   * a transfer's legs are checked once per posting statement (sum zero, positive legs equal to
--     the transfer's amount), at the end of the INSERT that writes them, instead of twice per
--     leg at commit; a leg appended to an old transfer still fails (WL010), now at once;
--   * the balance guard on accounts no longer calls a function for the updates entries make
--     (the trigger's WHEN skips them); any other UPDATE of a balance still raises WL009;
--   * hold locks the wallet without a function call of its own; capture locks only the wallet's
--     'held' account (the only wallet account it moves) and requests no top-up: capturing does
--     not change what is available, the hold already asked.

-- Legs: one check per statement.
DROP TRIGGER entries_balanced ON wallet.entries;
DROP FUNCTION wallet.check_entry_balanced();

-- Every transfer the statement wrote legs for: its legs are all in this statement (none older),
-- sum to zero, and the positive ones sum to the transfer's amount. Point lookups only.
CREATE FUNCTION wallet.check_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER entries_balanced AFTER INSERT ON wallet.entries
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION wallet.check_entries_balanced();

-- The balance guard: only statements outside a trigger reach the function (entries update
-- balances from `wallet.apply_entry`, one trigger level down).
DROP TRIGGER accounts_guard ON wallet.accounts;
CREATE TRIGGER accounts_guard BEFORE UPDATE ON wallet.accounts
    FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION wallet.guard_account();
CREATE TRIGGER accounts_no_delete BEFORE DELETE ON wallet.accounts
    FOR EACH ROW EXECUTE FUNCTION wallet.guard_account();

-- Same contract as in 0004 (statuses, idempotency, promotional first, top-up requests).
CREATE OR REPLACE FUNCTION wallet.hold(p_channel bigint, p_delivery bigint, p_amount bigint, p_route text DEFAULT NULL,
    OUT status text, OUT hold_id bigint, OUT available bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    paid_id bigint;
    promotional_id bigint;
    held_id bigint;
    paid bigint;
    promotional bigint;
    existing wallet.transfers;
    from_promotional bigint;
    accounts bigint[];
    amounts bigint[];
    posted wallet.posted;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'a hold must be a positive amount' USING ERRCODE = 'WL008';
    END IF;
    -- The wallet's three accounts, locked in ascending id order (as wallet.lock_wallet does).
    SELECT max(l.id) FILTER (WHERE l.kind = 'paid'), max(l.id) FILTER (WHERE l.kind = 'promotional'),
           max(l.id) FILTER (WHERE l.kind = 'held'),
           sum(l.balance) FILTER (WHERE l.kind = 'paid'), sum(l.balance) FILTER (WHERE l.kind = 'promotional')
    INTO paid_id, promotional_id, held_id, paid, promotional
    FROM (SELECT a.id, a.kind, a.balance FROM wallet.accounts a WHERE a.channel_id = p_channel ORDER BY a.id FOR UPDATE) l;
    IF held_id IS NULL THEN  -- first use: create them, then lock
        SELECT w.paid_id, w.promotional_id, w.held_id, w.paid, w.promotional
        INTO paid_id, promotional_id, held_id, paid, promotional
        FROM wallet.lock_wallet(p_channel) w;
    END IF;
    SELECT * INTO existing FROM wallet.transfers t WHERE t.idempotency_key = 'hold:' || p_delivery;
    IF FOUND THEN
        hold_id := existing.id;
        available := paid + promotional;
        IF existing.channel_id <> p_channel OR existing.amount <> p_amount THEN
            status := 'conflict';  -- the delivery holds a different amount (or wallet)
        ELSIF EXISTS (SELECT 1 FROM wallet.transfers s WHERE s.settles = existing.id AND s.kind = 'release') THEN
            status := 'released';  -- a released hold is not taken again
        ELSE
            status := 'held';
        END IF;
        RETURN;
    END IF;
    IF paid + promotional < p_amount THEN
        PERFORM wallet.request_top_up(p_channel, NULL, 'insufficient balance');
        status := 'insufficient';
        available := paid + promotional;
        RETURN;
    END IF;
    from_promotional := least(promotional, p_amount);
    accounts := ARRAY[held_id];
    amounts := ARRAY[p_amount];
    IF from_promotional > 0 THEN
        accounts := accounts || promotional_id;
        amounts := amounts || -from_promotional;
    END IF;
    IF p_amount - from_promotional > 0 THEN
        accounts := accounts || paid_id;
        amounts := amounts || -(p_amount - from_promotional);
    END IF;
    posted := wallet.post('hold:' || p_delivery, 'hold', p_channel,
                          coalesce(p_route, 'text') || ' held for delivery ' || p_delivery, 'system',
                          accounts, amounts, p_route => p_route, p_delivery => p_delivery);
    status := 'held';
    hold_id := posted.id;
    available := paid + promotional - p_amount;
    PERFORM wallet.request_top_up(p_channel, available, 'below threshold');
END $$;

CREATE OR REPLACE FUNCTION wallet.capture(p_delivery bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    h wallet.transfers;
    held_id bigint;
    revenue_id bigint;
    settled wallet.transfers;
    text_route text;
    posted wallet.posted;
BEGIN
    SELECT * INTO h FROM wallet.transfers t WHERE t.idempotency_key = 'hold:' || p_delivery;
    IF NOT FOUND THEN RETURN NULL; END IF;
    -- The 'held' account is the only wallet account a capture moves; its lock orders this
    -- capture with every other posting on the wallet (they all lock it).
    SELECT a.id INTO held_id FROM wallet.accounts a WHERE a.channel_id = h.channel_id AND a.kind = 'held' FOR UPDATE;
    SELECT * INTO settled FROM wallet.transfers s WHERE s.settles = h.id;
    IF FOUND THEN
        IF settled.kind = 'capture' THEN RETURN settled.id; END IF;
        RAISE EXCEPTION 'the hold of delivery % was released', p_delivery
            USING ERRCODE = 'WL007', DETAIL = p_delivery || '|released';
    END IF;
    text_route := coalesce(h.route, (SELECT d.route FROM public.deliveries d WHERE d.id = p_delivery), 'sms');
    SELECT a.id INTO revenue_id FROM wallet.accounts a
    WHERE a.channel_id IS NULL AND a.kind = 'revenue' AND a.route = text_route;
    IF revenue_id IS NULL THEN
        revenue_id := wallet.system_account('revenue', text_route);
    END IF;
    posted := wallet.post('capture:' || p_delivery, 'capture', h.channel_id,
                          text_route || ' sent, delivery ' || p_delivery, 'system',
                          ARRAY[held_id, revenue_id], ARRAY[-h.amount, h.amount],
                          p_route => text_route, p_delivery => p_delivery, p_settles => h.id);
    RETURN posted.id;
END $$;

REVOKE ALL ON FUNCTION wallet.check_entries_balanced() FROM PUBLIC;
