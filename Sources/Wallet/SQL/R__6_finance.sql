-- Finance (repeatable): read-only views over the ledger (docs/finance.md shows each with an
-- example). Amounts are micro-USD; finance.usd(x) turns them into dollars. Views are dropped
-- and created again, so a changed column list applies; the privileges file grants them again.

DROP VIEW IF EXISTS finance.monthly_texts, finance.monthly_report, finance.integrity_checks, finance.check_monthly_credits,
    finance.check_top_ups, finance.check_deliveries_without_charge, finance.check_transfers_without_delivery,
    finance.check_stale_holds, finance.check_held_matches_open_holds, finance.check_balance_cache,
    finance.check_unbalanced_transfers, finance.open_holds, finance.statement, finance.trial_balance,
    finance.account_balances;

CREATE OR REPLACE FUNCTION finance.usd(micros bigint) RETURNS numeric LANGUAGE sql IMMUTABLE
RETURN pg_catalog.round(micros::numeric / 1000000.0, 6);

-- Every account: what went in, what went out, the balance (the sum of its entries) and, for
-- wallet accounts, the cached balance the database maintains.
CREATE VIEW finance.account_balances AS
SELECT a.id AS account_id,
       CASE WHEN a.channel_id IS NULL THEN a.kind || coalesce(':' || a.route, '')
            ELSE 'channel ' || a.channel_id || ' ' || a.kind END AS account,
       a.kind, a.route, a.channel_id,
       coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0)::bigint AS money_in_micros,
       coalesce(-sum(e.amount) FILTER (WHERE e.amount < 0), 0)::bigint AS money_out_micros,
       coalesce(sum(e.amount), 0)::bigint AS balance_micros,
       CASE WHEN a.cached THEN a.balance END AS cached_balance_micros,
       count(e.id) AS entries
FROM wallet.accounts a
LEFT JOIN wallet.entries e ON e.account_id = a.id
GROUP BY a.id;

-- The trial balance: totals per kind of account. The balances sum to zero, always.
CREATE VIEW finance.trial_balance AS
SELECT kind, route,
       count(*) AS accounts,
       sum(money_in_micros)::bigint AS money_in_micros,
       sum(money_out_micros)::bigint AS money_out_micros,
       sum(balance_micros)::bigint AS balance_micros
FROM finance.account_balances
GROUP BY kind, route;

-- A wallet's statement: one line per transfer that touched it, in the order it was applied
-- (`sequence`), with the change to each bucket and the balances after it. Filter on channel_id.
CREATE VIEW finance.statement AS
WITH lines AS (
    SELECT t.channel_id, t.id AS transfer_id, t.created_at AS at, t.kind, t.reason, t.route, t.delivery_id,
           t.top_up_id, t.reverses, t.created_by,
           min(e.id) AS first_entry,
           coalesce(sum(e.amount) FILTER (WHERE a.kind = 'promotional'), 0)::bigint AS promotional_change_micros,
           coalesce(sum(e.amount) FILTER (WHERE a.kind = 'paid'), 0)::bigint AS paid_change_micros,
           coalesce(sum(e.amount) FILTER (WHERE a.kind = 'held'), 0)::bigint AS held_change_micros
    FROM wallet.transfers t
    JOIN wallet.entries e ON e.transfer_id = t.id
    JOIN wallet.accounts a ON a.id = e.account_id AND a.channel_id IS NOT NULL
    GROUP BY t.id, t.channel_id
)
SELECT channel_id, first_entry AS sequence, transfer_id, at, kind, reason, route, delivery_id, top_up_id, reverses, created_by,
       promotional_change_micros, paid_change_micros, held_change_micros,
       (sum(promotional_change_micros) OVER w)::bigint AS promotional_after_micros,
       (sum(paid_change_micros) OVER w)::bigint AS paid_after_micros,
       (sum(held_change_micros) OVER w)::bigint AS held_after_micros,
       (sum(promotional_change_micros + paid_change_micros) OVER w)::bigint AS available_after_micros
FROM lines
WINDOW w AS (PARTITION BY channel_id ORDER BY first_entry ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

-- Holds not yet captured or released.
CREATE VIEW finance.open_holds AS
SELECT h.channel_id, h.id AS transfer_id, h.delivery_id, h.route, h.amount AS amount_micros, h.created_at,
       now() - h.created_at AS age
FROM wallet.transfers h
WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM wallet.transfers s WHERE s.settles = h.id);

-- Integrity checks: each view must return no rows.
CREATE VIEW finance.check_unbalanced_transfers AS
SELECT t.id AS transfer_id, t.kind, t.amount AS amount_micros, count(e.id) AS entries,
       coalesce(sum(e.amount), 0)::bigint AS sum_micros
FROM wallet.transfers t
LEFT JOIN wallet.entries e ON e.transfer_id = t.id
GROUP BY t.id, t.channel_id
HAVING count(e.id) < 2 OR coalesce(sum(e.amount), 0) <> 0
    OR coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) <> t.amount;

CREATE VIEW finance.check_balance_cache AS
SELECT b.account_id, b.account, b.cached_balance_micros, b.balance_micros AS sum_of_entries_micros,
       a.version, b.entries
FROM finance.account_balances b
JOIN wallet.accounts a ON a.id = b.account_id
WHERE a.cached AND (b.cached_balance_micros <> b.balance_micros OR a.version <> b.entries
                    OR (a.floor IS NOT NULL AND a.balance < a.floor)
                    OR a.balance IS DISTINCT FROM (SELECT e.balance_after FROM wallet.entries e
                                                   WHERE e.account_id = a.id ORDER BY e.account_version DESC LIMIT 1)
                       AND b.entries > 0);

CREATE VIEW finance.check_held_matches_open_holds AS
SELECT a.channel_id, a.balance AS held_micros, coalesce(o.open_micros, 0) AS open_holds_micros
FROM wallet.accounts a
LEFT JOIN (SELECT channel_id, sum(amount_micros)::bigint AS open_micros FROM finance.open_holds GROUP BY channel_id) o
       ON o.channel_id = a.channel_id
WHERE a.kind = 'held' AND a.balance <> coalesce(o.open_micros, 0);

CREATE VIEW finance.check_stale_holds AS
SELECT * FROM finance.open_holds WHERE created_at < now() - interval '1 day';

CREATE VIEW finance.check_transfers_without_delivery AS
SELECT t.id AS transfer_id, t.kind, t.channel_id, t.delivery_id, d.channel_id AS delivery_channel_id
FROM wallet.transfers t
LEFT JOIN public.deliveries d ON d.id = t.delivery_id
WHERE t.delivery_id IS NOT NULL AND (d.id IS NULL OR d.channel_id <> t.channel_id);

-- Sent texts with a price must be captured at that price; texts that were not sent must not be.
CREATE VIEW finance.check_deliveries_without_charge AS
SELECT d.id AS delivery_id, d.channel_id, d.route, d.status, d.price_micros,
       c.amount AS captured_micros,
       CASE WHEN c.id IS NULL THEN 'sent but not charged'
            WHEN d.status IN ('failed', 'excluded') THEN 'charged but not sent'
            ELSE 'charged a different amount' END AS problem
FROM public.deliveries d
LEFT JOIN wallet.transfers c ON c.idempotency_key = 'capture:' || d.id
WHERE (d.status IN ('sent', 'delivered') AND d.price_micros > 0 AND c.id IS NULL)
   OR (c.id IS NOT NULL AND d.status IN ('failed', 'excluded'))
   OR (c.id IS NOT NULL AND c.amount <> d.price_micros);

CREATE VIEW finance.check_top_ups AS
SELECT u.id AS top_up_id, u.channel_id, u.state, u.amount_micros, t.amount AS credited_micros,
       CASE WHEN u.state = 'succeeded' AND (t.id IS NULL OR t.amount <> u.amount_micros) THEN 'succeeded but not credited in full'
            WHEN u.state <> 'succeeded' AND t.id IS NOT NULL THEN 'credited but not succeeded'
            ELSE 'in flight for more than a day' END AS problem
FROM wallet.top_ups u
LEFT JOIN wallet.transfers t ON t.idempotency_key = 'top_up:' || u.id
WHERE (u.state = 'succeeded' AND (t.id IS NULL OR t.amount <> u.amount_micros))
   OR (u.state <> 'succeeded' AND t.id IS NOT NULL)
   OR (u.state IN ('pending', 'charging') AND u.requested_at < now() - interval '1 day');

CREATE VIEW finance.check_monthly_credits AS
SELECT t.id AS transfer_id, t.channel_id, t.idempotency_key, m.month
FROM wallet.transfers t
LEFT JOIN wallet.monthly_credits m ON m.transfer_id = t.id
WHERE t.kind = 'monthly_credit' AND m.transfer_id IS NULL;

-- All of the above in one: the ledger is sound when this returns no rows.
CREATE VIEW finance.integrity_checks AS
SELECT 'unbalanced transfer' AS check_name, 'transfer ' || transfer_id AS subject,
       entries || ' entries summing to ' || sum_micros AS detail FROM finance.check_unbalanced_transfers
UNION ALL
SELECT 'balance cache', account, 'cached ' || coalesce(cached_balance_micros::text, 'none') || ', entries sum to ' || sum_of_entries_micros
FROM finance.check_balance_cache
UNION ALL
SELECT 'held balance', 'channel ' || channel_id, 'held ' || held_micros || ', open holds ' || open_holds_micros
FROM finance.check_held_matches_open_holds
UNION ALL
SELECT 'stale hold', 'delivery ' || delivery_id, 'held ' || amount_micros || ' since ' || created_at FROM finance.check_stale_holds
UNION ALL
SELECT 'transfer without delivery', 'transfer ' || transfer_id, kind || ' for delivery ' || delivery_id
FROM finance.check_transfers_without_delivery
UNION ALL
SELECT 'delivery charge', 'delivery ' || delivery_id, problem || ' (' || status || ', price ' || price_micros || ')'
FROM finance.check_deliveries_without_charge
UNION ALL
SELECT 'top-up', 'top-up ' || top_up_id, problem FROM finance.check_top_ups
UNION ALL
SELECT 'monthly credit', 'transfer ' || transfer_id, 'monthly credit without its (channel, month) record'
FROM finance.check_monthly_credits;

-- Per channel and calendar month (UTC): credit granted, texts sent, what they cost (and from
-- which bucket), and what auto-charge topped up.
CREATE VIEW finance.monthly_report AS
WITH captures AS (
    SELECT c.channel_id, date_trunc('month', c.created_at AT TIME ZONE 'UTC')::date AS month, c.amount,
           coalesce(-(SELECT sum(e.amount) FROM wallet.entries e JOIN wallet.accounts a ON a.id = e.account_id
                      WHERE e.transfer_id = c.settles AND a.kind = 'promotional'), 0) AS from_promotional
    FROM wallet.transfers c WHERE c.kind = 'capture'
),
movements AS (
    SELECT channel_id, month, 0::bigint AS monthly_credit, 0::bigint AS other_credit, 0::bigint AS topped_up,
           1 AS texts, amount AS spent, from_promotional AS spent_promotional
    FROM captures
    UNION ALL
    SELECT t.channel_id, date_trunc('month', t.created_at AT TIME ZONE 'UTC')::date,
           CASE WHEN t.kind = 'monthly_credit' THEN t.amount ELSE 0 END,
           CASE WHEN t.kind IN ('credit', 'adjustment', 'reversal') THEN
                    (SELECT sum(e.amount) FROM wallet.entries e JOIN wallet.accounts a ON a.id = e.account_id
                     WHERE e.transfer_id = t.id AND a.channel_id IS NOT NULL) ELSE 0 END,
           CASE WHEN t.kind = 'top_up' THEN t.amount ELSE 0 END,
           0, 0, 0
    FROM wallet.transfers t WHERE t.kind IN ('monthly_credit', 'credit', 'adjustment', 'reversal', 'top_up')
)
SELECT channel_id, month,
       sum(monthly_credit)::bigint AS monthly_credit_micros,
       sum(other_credit)::bigint AS operator_credit_micros,
       sum(texts)::bigint AS texts_charged,
       sum(spent)::bigint AS spent_micros,
       sum(spent_promotional)::bigint AS spent_from_promotional_micros,
       (sum(spent) - sum(spent_promotional))::bigint AS spent_from_paid_micros,
       sum(topped_up)::bigint AS topped_up_micros
FROM movements
GROUP BY channel_id, month;

-- Texts per channel, month, route and country: how many, and what they were charged.
CREATE VIEW finance.monthly_texts AS
SELECT d.channel_id, date_trunc('month', d.created_at AT TIME ZONE 'UTC')::date AS month, d.route,
       coalesce(d.country, '?') AS country,
       count(*) FILTER (WHERE d.status IN ('sent', 'delivered')) AS texts_sent,
       count(*) FILTER (WHERE d.status IN ('failed', 'excluded')) AS texts_not_sent,
       coalesce(sum(d.segments) FILTER (WHERE d.status IN ('sent', 'delivered')), 0)::bigint AS segments,
       coalesce(sum(c.amount), 0)::bigint AS charged_micros
FROM public.deliveries d
LEFT JOIN wallet.transfers c ON c.idempotency_key = 'capture:' || d.id
WHERE d.route IN ('messenger', 'sms', 'lms', 'email')
GROUP BY 1, 2, 3, 4;

