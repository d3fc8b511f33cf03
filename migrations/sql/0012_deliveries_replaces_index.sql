-- The deliveries an SMS or LMS replaced (a blocked messenger text) are found by `replaces`:
-- the delivery_report view joins on it, and so does the foreign key's check when a delivery
-- inserted in the same transaction is updated. Without an index both scanned every delivery,
-- a cost that grew with the table (pg_stat_statements: 69 µs a check at 10,000 deliveries).
CREATE INDEX deliveries_replaces_idx ON deliveries (replaces) WHERE replaces IS NOT NULL;
