-- The price lookup as an expression other queries can carry: NULL when no price applies (a
-- plain SQL function, so the planner inlines it into the calling query). wallet.price keeps its
-- contract (raises WL003 when there is no price) on top of it. A send reads its price with its
-- delivery row, in one statement.
CREATE FUNCTION wallet.find_price(p_route text, p_country text, p_units integer, p_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT p.price_micros * CASE p.unit WHEN 'segment' THEN greatest(coalesce(p_units, 1), 1) ELSE 1 END
    FROM wallet.prices p
    WHERE p.route = p_route AND p.country IN (upper(p_country), '*') AND p.effective_from <= p_at
    ORDER BY p.country = '*', p.effective_from DESC
    LIMIT 1
$$;

CREATE OR REPLACE FUNCTION wallet.price(p_route text, p_country text, p_units integer, p_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
    result bigint := wallet.find_price(p_route, p_country, p_units, p_at);
BEGIN
    IF result IS NULL THEN
        RAISE EXCEPTION 'no price for route % in %', p_route, p_country
            USING ERRCODE = 'WL003', DETAIL = coalesce(p_route, '') || '|' || coalesce(p_country, '');
    END IF;
    RETURN result;
END $$;

REVOKE ALL ON FUNCTION wallet.find_price(text, text, integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wallet.find_price(text, text, integer, timestamptz) TO followup_app;
