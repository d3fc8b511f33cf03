-- Texts (repeatable): hold before sending, capture after the provider accepted, release when it
-- was not sent; and the auto-charge request a hold or capture may make.

-- Auto-charge requests. Called by hold and capture with the wallet's available balance (or
-- with NULL when the wallet could not cover a text: then the threshold is not consulted).
-- Returns the new top-up's id, or NULL when none was requested (auto-charge off, a top-up
-- already in flight, backing off after a decline, or the monthly cap reached).
CREATE OR REPLACE FUNCTION wallet.request_top_up(p_channel bigint, p_available bigint, p_reason text)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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


-- Texts: hold before sending, capture after the provider accepted, release when it was not sent.

-- Reserves `p_amount` for delivery `p_delivery`: promotional credit first, then paid balance,
-- into the channel's 'held' account. Idempotent per delivery. Returns a status and does not
-- raise, so the caller's transaction stays usable to record the failed delivery:
--   'held'          held now, or by an earlier call with the same amount;
--   'insufficient'  the wallet cannot cover it: nothing posted, a top-up requested (if on);
--   'conflict'      the delivery already holds a different amount;
--   'released'      the delivery's hold was released earlier and is not taken again.
-- A new hold raises WL011 unless the delivery exists, belongs to the channel, is about to be sent
-- (`queued` or `sending`) and costs exactly `p_amount`: a caller cannot hold (and so request a
-- top-up on) a wallet for a delivery that is not that wallet's.
CREATE OR REPLACE FUNCTION wallet.hold(p_channel bigint, p_delivery bigint, p_amount bigint, p_route text DEFAULT NULL,
    OUT status text, OUT hold_id bigint, OUT available bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
    delivery_price bigint;
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
    SELECT d.price_micros INTO delivery_price FROM public.deliveries d
    WHERE d.id = p_delivery AND d.channel_id = p_channel AND d.status IN ('queued', 'sending');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'delivery % is not a queued or sending delivery of channel %', p_delivery, p_channel
            USING ERRCODE = 'WL011', DETAIL = p_delivery::text;
    END IF;
    IF delivery_price IS DISTINCT FROM p_amount THEN
        RAISE EXCEPTION 'a hold for delivery % must be its price (%), not %', p_delivery, delivery_price, p_amount
            USING ERRCODE = 'WL011', DETAIL = p_delivery::text;
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

-- Charges the delivery's hold: held → revenue of its route. Idempotent; NULL when there is no
-- hold (a free text). Raises WL007 when the hold was released. Capturing does not change what is
-- available (the hold took it), so it requests no top-up.
CREATE OR REPLACE FUNCTION wallet.capture(p_delivery bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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

-- Gives the delivery's hold back to the accounts it came from. Idempotent; NULL without a hold.
-- Raises WL007 when the hold was captured.
CREATE OR REPLACE FUNCTION wallet.release(p_delivery bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
CREATE OR REPLACE FUNCTION wallet.balance(p_channel bigint, OUT paid bigint, OUT promotional bigint, OUT held bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
