-- Two statements of every text that Postgres planned again on each call (pg_stat_statements with
-- track_planning: one plan per call), for the end-to-end throughput of follow-ups.
--
-- 1. The list price. wallet.find_price is a LANGUAGE sql function with a FROM clause: the planner
--    cannot inline such a scalar function, so every call parsed and planned its body (about
--    120 µs). The rule now lives in wallet.list_price, a table function the planner does inline
--    into a calling query (`LEFT JOIN LATERAL wallet.list_price(...) ON true`), as a send's one
--    query reads its delivery. wallet.find_price keeps its contract, in PL/pgSQL (planned once
--    per session) over the same rule.
CREATE FUNCTION wallet.list_price(p_route text, p_country text, p_units integer, p_at timestamptz DEFAULT now())
RETURNS TABLE (price_micros bigint) LANGUAGE sql STABLE AS $$
    SELECT p.price_micros * CASE p.unit WHEN 'segment' THEN greatest(coalesce(p_units, 1), 1) ELSE 1 END
    FROM wallet.prices p
    WHERE p.route = p_route AND p.country IN (upper(p_country), '*') AND p.effective_from <= p_at
    ORDER BY p.country = '*', p.effective_from DESC
    LIMIT 1
$$;

CREATE OR REPLACE FUNCTION wallet.find_price(p_route text, p_country text, p_units integer, p_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT l.price_micros FROM wallet.list_price(p_route, p_country, p_units, p_at) l);
END $$;

REVOKE ALL ON FUNCTION wallet.list_price(text, text, integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wallet.list_price(text, text, integer, timestamptz) TO followup_app;

-- 2. Posting's lock of the accounts it moves (`id = ANY (p_accounts)`): with the array's length
--    known, the custom plan always looked cheaper than the generic one, so it was planned on
--    every posting (about 50 µs; twice per text). Every statement in wallet.post is a point
--    lookup or a small insert, which a generic plan serves as well.
ALTER FUNCTION wallet.post(text, text, bigint, text, text, bigint[], bigint[], text, bigint, bigint, bigint, bigint)
    SET plan_cache_mode = force_generic_plan;
