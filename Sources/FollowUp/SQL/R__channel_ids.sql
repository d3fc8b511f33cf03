-- The tenant of each row (repeatable; 0006_channel_ids.sql, docs/scale.md): `channel_id` is
-- copied from the row's parent before the row is stored, so the app's inserts stay as
-- docs/app-contract.md shows them and the column always agrees with the parent (a value the
-- insert gave is replaced). When the parent does not exist the column stays NULL and the
-- foreign key rejects the row with its usual, named error.
--
-- SECURITY DEFINER (the app may not read every parent row it names), so each pins its search
-- path and qualifies every name.

CREATE OR REPLACE FUNCTION public.channel_id_from_chat() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.channel_id := (SELECT c.channel_id FROM public.chats c WHERE c.id = NEW.chat_id);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION public.channel_id_from_customer() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.channel_id := (SELECT c.channel_id FROM public.customers c WHERE c.id = NEW.customer_id);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION public.channel_id_from_follow_up() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.channel_id := (SELECT f.channel_id FROM public.follow_ups f WHERE f.id = NEW.follow_up_id);
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER messages_channel_id BEFORE INSERT OR UPDATE OF chat_id ON public.messages
    FOR EACH ROW EXECUTE FUNCTION public.channel_id_from_chat();
CREATE OR REPLACE TRIGGER chat_reads_channel_id BEFORE INSERT OR UPDATE OF chat_id ON public.chat_reads
    FOR EACH ROW EXECUTE FUNCTION public.channel_id_from_chat();
CREATE OR REPLACE TRIGGER customer_devices_channel_id BEFORE INSERT OR UPDATE OF customer_id ON public.customer_devices
    FOR EACH ROW EXECUTE FUNCTION public.channel_id_from_customer();
-- Named to fire before push_receipts_check (triggers of one event fire in name order).
CREATE OR REPLACE TRIGGER push_receipts_channel_id BEFORE INSERT ON public.push_receipts
    FOR EACH ROW EXECUTE FUNCTION public.channel_id_from_follow_up();
