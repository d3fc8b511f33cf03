-- Retention (issue 16; R__retention.sql, docs/scale.md): inbound events are pruned by age, so
-- their age is indexed (one entry per inbound webhook or mail: a small cost).
CREATE INDEX inbound_events_received_idx ON inbound_events (received_at);
