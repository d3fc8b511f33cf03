-- The tenant of each row (repeatable; 0006_channel_ids.sql, docs/scale.md): `channel_id` is
-- copied from the row's parent before the row is stored, so the app's inserts stay as
-- docs/app-contract.md shows them and the column always agrees with the parent (a value the
-- insert gave is replaced). The column is NOT NULL (0008_tenant_keys.sql): when the parent does
-- not exist, the trigger raises the error the row's foreign key would have raised (its name is
-- the trigger's argument), so the app still sees `messages_chat_known` and not a missing
-- channel_id. A NULL parent id is left to that column's own NOT NULL.
--
-- push_receipts keeps a nullable channel_id: a receipt for an unknown follow-up is stored
-- (`rejected`) and has no channel (docs/scale.md).
--
-- SECURITY DEFINER (the app may not read every parent row it names), so each pins its search
-- path and qualifies every name.

-- The foreign key's own error, raised before the row's NOT NULL channel_id would report it.
CREATE OR REPLACE FUNCTION public.channel_id_parent_missing(p_schema text, p_table text, p_constraint text,
                                                            p_column text, p_key bigint, p_parent text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', p_table, p_constraint
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = p_constraint, SCHEMA = p_schema, TABLE = p_table,
              DETAIL = format('Key (%s)=(%s) is not present in table "%s".', p_column, p_key, p_parent);
END $$;

CREATE OR REPLACE FUNCTION public.channel_id_from_chat() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.channel_id := (SELECT c.channel_id FROM public.chats c WHERE c.id = NEW.chat_id);
    IF NEW.channel_id IS NULL AND NEW.chat_id IS NOT NULL THEN
        PERFORM public.channel_id_parent_missing(TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0], 'chat_id', NEW.chat_id, 'chats');
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION public.channel_id_from_customer() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.channel_id := (SELECT c.channel_id FROM public.customers c WHERE c.id = NEW.customer_id);
    IF NEW.channel_id IS NULL AND NEW.customer_id IS NOT NULL THEN
        PERFORM public.channel_id_parent_missing(TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0], 'customer_id', NEW.customer_id, 'customers');
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION public.channel_id_from_follow_up() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.channel_id := (SELECT f.channel_id FROM public.follow_ups f WHERE f.id = NEW.follow_up_id);
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER messages_channel_id BEFORE INSERT OR UPDATE OF chat_id ON public.messages
    FOR EACH ROW EXECUTE FUNCTION public.channel_id_from_chat('messages_chat_known');
CREATE OR REPLACE TRIGGER chat_reads_channel_id BEFORE INSERT OR UPDATE OF chat_id ON public.chat_reads
    FOR EACH ROW EXECUTE FUNCTION public.channel_id_from_chat('chat_reads_chat_known');
CREATE OR REPLACE TRIGGER customer_devices_channel_id BEFORE INSERT OR UPDATE OF customer_id ON public.customer_devices
    FOR EACH ROW EXECUTE FUNCTION public.channel_id_from_customer('customer_devices_customer_known');
-- Named to fire before push_receipts_check (triggers of one event fire in name order).
CREATE OR REPLACE TRIGGER push_receipts_channel_id BEFORE INSERT ON public.push_receipts
    FOR EACH ROW EXECUTE FUNCTION public.channel_id_from_follow_up();
