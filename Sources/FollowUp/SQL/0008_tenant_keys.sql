-- Tenant keys (issue 16 item 5; docs/scale.md "Past one Postgres"). A sharded database (Citus,
-- distributed by channel_id) requires every primary and unique key of a distributed table, and
-- every foreign key between two of them, to include `channel_id`. Here the keys of the tables the
-- product writes itself take it now, where that costs nothing on one node:
--   * the ids are `GENERATED ALWAYS` (only the product numbers them), so `(id, channel_id)` is as
--     unique as `(id)` was; `id` stays the leading column, so every lookup by id uses the index;
--   * a follow-up, route and device determine the channel (the foreign key below makes the
--     delivery's channel its follow-up's), so the widened unique keys allow no more rows;
--   * no extra index: the widened key replaces the old one.
-- The app's tables keep their keys (the app's inserts, its own ids and `ON CONFLICT` targets rely
-- on them): docs/scale.md lists what changes there at sharding time, and
-- Tests/FollowUpTests/Operations/TenantSchemaTests.swift fails on any other key without `channel_id`.

-- `channel_id` is on every row of these (R__channel_ids.sql copies it from the parent, and the
-- parent is required): now NOT NULL. Rows written before the trigger existed get it here.
UPDATE public.messages m SET channel_id = c.channel_id FROM public.chats c
WHERE c.id = m.chat_id AND m.channel_id IS NULL;
UPDATE public.chat_reads r SET channel_id = c.channel_id FROM public.chats c
WHERE c.id = r.chat_id AND r.channel_id IS NULL;
UPDATE public.customer_devices d SET channel_id = c.channel_id FROM public.customers c
WHERE c.id = d.customer_id AND d.channel_id IS NULL;
ALTER TABLE public.messages ALTER COLUMN channel_id SET NOT NULL;
ALTER TABLE public.chat_reads ALTER COLUMN channel_id SET NOT NULL;
ALTER TABLE public.customer_devices ALTER COLUMN channel_id SET NOT NULL;
-- A device is of its customer's channel: the foreign key names both, through the key that
-- chats already use (customers_id_channel_unique), so it costs no index.
ALTER TABLE public.customer_devices
    DROP CONSTRAINT customer_devices_customer_known,
    ADD CONSTRAINT customer_devices_customer_known FOREIGN KEY (customer_id, channel_id)
        REFERENCES public.customers (id, channel_id) ON DELETE CASCADE;
COMMENT ON COLUMN public.messages.channel_id IS 'the chat''s channel; always copied from chats (an insert need not give it)';
COMMENT ON COLUMN public.chat_reads.channel_id IS 'the chat''s channel; always copied from chats (an insert need not give it)';
COMMENT ON COLUMN public.customer_devices.channel_id IS 'the customer''s channel; always copied from customers (an insert need not give it)';

-- Follow-ups and deliveries: keys with their channel.
ALTER TABLE public.deliveries
    DROP CONSTRAINT deliveries_follow_up_id_fkey,
    DROP CONSTRAINT deliveries_replaces_fkey;
ALTER TABLE public.follow_ups
    DROP CONSTRAINT follow_ups_pkey,
    ADD CONSTRAINT follow_ups_pkey PRIMARY KEY (id, channel_id);
ALTER TABLE public.deliveries
    DROP CONSTRAINT deliveries_pkey,
    ADD CONSTRAINT deliveries_pkey PRIMARY KEY (id, channel_id),
    -- A delivery is of its follow-up's channel. Pruning a follow-up clears `follow_up_id` only
    -- (the column list: the delivery keeps its channel).
    ADD CONSTRAINT deliveries_follow_up_id_fkey FOREIGN KEY (follow_up_id, channel_id)
        REFERENCES public.follow_ups (id, channel_id) ON DELETE SET NULL (follow_up_id),
    -- The SMS/LMS that replaced a messenger text is of the same channel.
    ADD CONSTRAINT deliveries_replaces_fkey FOREIGN KEY (replaces, channel_id)
        REFERENCES public.deliveries (id, channel_id);

-- At most one open follow-up per chat: a chat has one channel, so adding it changes nothing, and
-- the offline check's lookup by chat still leads with `chat_id`.
DROP INDEX public.follow_ups_one_open_per_chat;
CREATE UNIQUE INDEX follow_ups_one_open_per_chat ON public.follow_ups (chat_id, channel_id)
    WHERE status IN ('pending', 'awaiting_push_ack');

-- One delivery per follow-up, route and device (DeliveryRecord.insert's ON CONFLICT names these
-- columns); the channel is the follow-up's, so this is the same rule.
DROP INDEX public.deliveries_one_per_route;
CREATE UNIQUE INDEX deliveries_one_per_route ON public.deliveries (follow_up_id, route, coalesce(device_id, 0), channel_id)
    WHERE follow_up_id IS NOT NULL;
