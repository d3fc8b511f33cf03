-- Retention of what only grows (repeatable; docs/scale.md): the periodic job `followup.prune`
-- calls followup_prune until it deletes less than a batch, each call its own short transaction.
-- The time is an argument (tests pass any), so is every retention (docs/configuration.md).
--
-- Never deleted, whatever the settings:
--   * the ledger (wallet.*): it is append-only and never pruned;
--   * a delivery a ledger transfer names (a held, captured or released text): finance's
--     statements, checks (finance.check_transfers_without_delivery) and reports join on it;
--   * a delivery another delivery `replaces` while that one is kept;
--   * a follow-up that still has a delivery, and the newest follow-up (not cancelled) of each
--     chat: it marks which answers were already sent, so they are never sent again;
--   * anything not finished (queued or sending deliveries; pending follow-ups).
-- Deleted in batches, oldest first: finished deliveries and follow-ups created before their
-- retention, the push receipts of deleted follow-ups, inbound events received before theirs.
CREATE OR REPLACE FUNCTION public.followup_prune(p_now timestamptz, p_deliveries interval, p_follow_ups interval,
                                                 p_inbound_events interval, p_batch integer)
RETURNS TABLE (deleted_deliveries integer, deleted_follow_ups integer, deleted_push_receipts integer, deleted_inbound_events integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_batch IS NULL OR p_batch < 1 OR p_deliveries < interval '1 day' OR p_follow_ups < interval '1 day'
       OR p_inbound_events < interval '1 day' THEN
        RAISE EXCEPTION 'prune: the batch must be positive and each retention at least 1 day' USING ERRCODE = '22023';
    END IF;
    WITH doomed AS (
        SELECT d.id FROM public.deliveries d
        WHERE d.created_at < p_now - p_deliveries
          AND d.status NOT IN ('queued', 'sending')
          AND NOT EXISTS (SELECT 1 FROM wallet.transfers t WHERE t.delivery_id = d.id)
          AND NOT EXISTS (SELECT 1 FROM public.deliveries r WHERE r.replaces = d.id)
        ORDER BY d.created_at
        LIMIT p_batch
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM public.deliveries d USING doomed WHERE d.id = doomed.id;
    GET DIAGNOSTICS deleted_deliveries = ROW_COUNT;

    WITH doomed AS (
        SELECT f.id FROM public.follow_ups f
        WHERE f.created_at < p_now - p_follow_ups
          AND f.status IN ('notified', 'acknowledged', 'cancelled')
          AND NOT EXISTS (SELECT 1 FROM public.deliveries d WHERE d.follow_up_id = f.id)
          AND (f.status = 'cancelled'
               OR EXISTS (SELECT 1 FROM public.follow_ups g WHERE g.chat_id = f.chat_id AND g.id > f.id AND g.status <> 'cancelled'))
        ORDER BY f.created_at
        LIMIT p_batch
        FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM public.follow_ups f USING doomed WHERE f.id = doomed.id RETURNING f.id
    ), receipts AS (
        DELETE FROM public.push_receipts r USING gone WHERE r.follow_up_id = gone.id RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM receipts) INTO deleted_follow_ups, deleted_push_receipts;

    WITH doomed AS (
        SELECT e.source, e.event_id FROM public.inbound_events e
        WHERE e.received_at < p_now - p_inbound_events
        ORDER BY e.received_at
        LIMIT p_batch
    )
    DELETE FROM public.inbound_events e USING doomed WHERE e.source = doomed.source AND e.event_id = doomed.event_id;
    GET DIAGNOSTICS deleted_inbound_events = ROW_COUNT;
    RETURN NEXT;
END $$;
