-- A fenced write that can travel with COMMIT in one round trip (the client pipelines the
-- handler's last statement and COMMIT). Matching no row is not an error, so the check must
-- raise instead: the server then skips the COMMIT that follows, and nothing the handler wrote
-- in that transaction is kept. SQLSTATE FJ001; the Jobs module reports it as a lost lease.
CREATE FUNCTION jobs_lease_lost(p_id bigint, p_attempt integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'job % attempt % is no longer running here (lease lost or cancelled)', p_id, p_attempt
        USING ERRCODE = 'FJ001';
END $$;
