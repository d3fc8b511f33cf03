-- Prices (repeatable: re-applied whenever this file changes). The table, wallet.prices, and the
-- launch prices are in 0001_wallet.sql; a new price is a new row.

-- The rule: the row in force at `p_at` is the latest one whose effective_from has passed, the
-- country's own before '*'; SMS bills per segment, the other routes per message. A table function
-- of one plain SELECT, so the planner inlines it into a calling query
-- (`LEFT JOIN LATERAL wallet.list_price(...) ON true`); it cannot pin its search_path (that stops
-- inlining), so every name in it is schema-qualified and every operator has an exact match in
-- pg_catalog, which is searched first.
CREATE OR REPLACE FUNCTION wallet.list_price(p_route text, p_country text, p_units integer, p_at timestamptz DEFAULT now())
RETURNS TABLE (price_micros bigint) LANGUAGE sql STABLE AS $$
    SELECT p.price_micros * CASE p.unit WHEN 'segment' THEN greatest(coalesce(p_units, 1), 1) ELSE 1 END
    FROM wallet.prices p
    WHERE p.route = p_route AND p.country IN (pg_catalog.upper(p_country), '*') AND p.effective_from <= p_at
    ORDER BY p.country = '*', p.effective_from DESC
    LIMIT 1
$$;

-- The same rule as a value: NULL when no price applies.
CREATE OR REPLACE FUNCTION wallet.find_price(p_route text, p_country text, p_units integer, p_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT l.price_micros FROM wallet.list_price(p_route, p_country, p_units, p_at) l);
END $$;

-- The same rule, raising WL003 when no price applies.
CREATE OR REPLACE FUNCTION wallet.price(p_route text, p_country text, p_units integer, p_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result bigint := wallet.find_price(p_route, p_country, p_units, p_at);
BEGIN
    IF result IS NULL THEN
        RAISE EXCEPTION 'no price for route % in %', p_route, p_country
            USING ERRCODE = 'WL003', DETAIL = coalesce(p_route, '') || '|' || coalesce(p_country, '');
    END IF;
    RETURN result;
END $$;

