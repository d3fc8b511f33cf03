-- Operators (repeatable): credits, adjustments, reversals. Each is a transfer with a reason and an
-- author; only followup_operator may call them.

-- Credit to 'paid' (from 'adjustments') or 'promotional' (from 'promotional_expense').
CREATE OR REPLACE FUNCTION wallet.credit(p_channel bigint, p_amount bigint, p_bucket text, p_reason text, p_by text,
                              p_key text DEFAULT NULL)
RETURNS wallet.posted LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
CREATE OR REPLACE FUNCTION wallet.adjust(p_channel bigint, p_amount bigint, p_reason text, p_by text, p_key text DEFAULT NULL)
RETURNS wallet.posted LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
CREATE OR REPLACE FUNCTION wallet.reverse(p_transfer bigint, p_reason text, p_by text)
RETURNS wallet.posted LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
