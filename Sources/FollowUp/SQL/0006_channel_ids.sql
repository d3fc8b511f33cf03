-- Every tenant table carries its tenant (issue 16; docs/scale.md): `channel_id` on each row, so
-- the schema can be sharded by channel (e.g. Citus, distributed by channel_id) without a
-- rewrite. The app's inserts do not change: where the app never wrote `channel_id`, a trigger
-- (R__channel_ids.sql) fills it from the row's parent — the chat, the customer or the follow-up.
--
-- `activity` is the exception: a lookup per heartbeat would cost the hottest write path a
-- read, so there `channel_id` is optional — the app may write it (a sharded deployment must),
-- and a NULL costs no space (the row's null bitmap fits in the header's padding).

ALTER TABLE messages ADD COLUMN channel_id bigint;
ALTER TABLE chat_reads ADD COLUMN channel_id bigint;
ALTER TABLE customer_devices ADD COLUMN channel_id bigint;
ALTER TABLE push_receipts ADD COLUMN channel_id bigint;
ALTER TABLE activity ADD COLUMN channel_id bigint;

COMMENT ON COLUMN messages.channel_id IS 'the chat''s channel; filled from chats when the insert leaves it out';
COMMENT ON COLUMN chat_reads.channel_id IS 'the chat''s channel; filled from chats when the insert leaves it out';
COMMENT ON COLUMN customer_devices.channel_id IS 'the customer''s channel; filled from customers when the insert leaves it out';
COMMENT ON COLUMN push_receipts.channel_id IS 'the follow-up''s channel; filled from follow_ups (NULL for an unknown follow-up)';
COMMENT ON COLUMN activity.channel_id IS 'optional: the customer''s channel, written by the app (required once sharded by channel; docs/scale.md)';
