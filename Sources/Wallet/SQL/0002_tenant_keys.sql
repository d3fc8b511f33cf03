-- Tenant keys of the wallet (issue 16 item 5; docs/scale.md "Past one Postgres"). A wallet is a
-- channel's (the seed's "your SMS wallet", one per company): every ledger row but the system
-- accounts' belongs to one channel, so a database sharded by channel_id (Citus) keeps a wallet's
-- accounts, transfers, entries and top-ups on one shard. Citus requires each primary and unique
-- key of a distributed table, and each foreign key between two of them, to include channel_id;
-- here they take it now, where that costs nothing on one node:
--   * every id is `GENERATED ALWAYS` (or a random uuid), so `(id, channel_id)` is as unique as
--     `(id)` was, and `id` stays the leading column: every lookup by id uses the index;
--   * a transfer settles, reverses, credits or is recorded only for its own channel's rows (the
--     composite foreign keys now check that), so the widened unique keys allow no more rows;
--   * no extra index: each widened key replaces the old one.
-- Kept as they are, and listed in docs/scale.md: `transfers_idempotency_key` (a key is refused for
-- another wallet, WL001), and `wallet.accounts` (the system accounts have no channel).

-- Entries carry their transfer's channel (written by wallet.post), attempts their top-up's
-- (written by wallet.top_up_begin). Existing rows get it here; entries are append-only, so their
-- guard is lifted for this one statement when it exists already (a database migrated before).
ALTER TABLE wallet.entries ADD COLUMN channel_id bigint;
ALTER TABLE wallet.top_up_attempts ADD COLUMN channel_id bigint;
DO $$
DECLARE
    guarded boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                               WHERE tgrelid = 'wallet.entries'::regclass AND tgname = 'entries_append_only');
BEGIN
    IF guarded THEN ALTER TABLE wallet.entries DISABLE TRIGGER entries_append_only; END IF;
    UPDATE wallet.entries e SET channel_id = t.channel_id FROM wallet.transfers t WHERE t.id = e.transfer_id;
    IF guarded THEN ALTER TABLE wallet.entries ENABLE TRIGGER entries_append_only; END IF;
END $$;
UPDATE wallet.top_up_attempts a SET channel_id = t.channel_id FROM wallet.top_ups t WHERE t.id = a.top_up_id;
ALTER TABLE wallet.entries ALTER COLUMN channel_id SET NOT NULL;
ALTER TABLE wallet.top_up_attempts ALTER COLUMN channel_id SET NOT NULL;
COMMENT ON COLUMN wallet.entries.channel_id IS 'the transfer''s channel (also on legs against system accounts)';
COMMENT ON COLUMN wallet.top_up_attempts.channel_id IS 'the top-up''s channel';

-- The foreign keys that name a transfer or a top-up by id alone go, the keys widen, and the
-- foreign keys come back with the channel. Two finance views group by the transfer's key: in a
-- database migrated before, they go too (with the views built on them), and R__6_finance.sql
-- makes them all again.
DROP VIEW IF EXISTS finance.statement, finance.check_unbalanced_transfers CASCADE;
ALTER TABLE wallet.transfers DROP CONSTRAINT transfers_settles_fkey, DROP CONSTRAINT transfers_reverses_fkey;
ALTER TABLE wallet.entries DROP CONSTRAINT entries_transfer_id_fkey;
ALTER TABLE wallet.top_ups DROP CONSTRAINT top_ups_transfer_id_fkey;
ALTER TABLE wallet.monthly_credits DROP CONSTRAINT monthly_credits_transfer_id_fkey;
ALTER TABLE wallet.top_up_attempts DROP CONSTRAINT top_up_attempts_top_up_id_fkey;

ALTER TABLE wallet.transfers
    DROP CONSTRAINT transfers_pkey,
    ADD CONSTRAINT transfers_pkey PRIMARY KEY (id, channel_id);
ALTER TABLE wallet.entries
    DROP CONSTRAINT entries_pkey,
    ADD CONSTRAINT entries_pkey PRIMARY KEY (id, channel_id),
    -- An account's versions are its own (and an account is one channel's).
    DROP CONSTRAINT entries_account_version,
    ADD CONSTRAINT entries_account_version UNIQUE (account_id, account_version, channel_id);
ALTER TABLE wallet.top_ups
    DROP CONSTRAINT top_ups_pkey,
    ADD CONSTRAINT top_ups_pkey PRIMARY KEY (id, channel_id);
ALTER TABLE wallet.top_up_attempts
    DROP CONSTRAINT top_up_attempts_pkey,
    ADD CONSTRAINT top_up_attempts_pkey PRIMARY KEY (id, channel_id);
ALTER TABLE wallet.monthly_credits
    DROP CONSTRAINT monthly_credits_transfer_id_key,
    ADD CONSTRAINT monthly_credits_transfer_id_key UNIQUE (transfer_id, channel_id);

-- "Settled once, reversed once": a capture or release settles its own wallet's hold, a reversal
-- undoes its own wallet's transfer.
DROP INDEX wallet.transfers_settles_once;
CREATE UNIQUE INDEX transfers_settles_once ON wallet.transfers (settles, channel_id) WHERE settles IS NOT NULL;
DROP INDEX wallet.transfers_reversed_once;
CREATE UNIQUE INDEX transfers_reversed_once ON wallet.transfers (reverses, channel_id) WHERE reverses IS NOT NULL;
DROP INDEX wallet.top_up_attempts_one_open;
CREATE UNIQUE INDEX top_up_attempts_one_open ON wallet.top_up_attempts (top_up_id, channel_id) WHERE state = 'started';

ALTER TABLE wallet.transfers
    ADD CONSTRAINT transfers_settles_fkey FOREIGN KEY (settles, channel_id) REFERENCES wallet.transfers (id, channel_id),
    ADD CONSTRAINT transfers_reverses_fkey FOREIGN KEY (reverses, channel_id) REFERENCES wallet.transfers (id, channel_id);
ALTER TABLE wallet.entries
    ADD CONSTRAINT entries_transfer_id_fkey FOREIGN KEY (transfer_id, channel_id) REFERENCES wallet.transfers (id, channel_id);
ALTER TABLE wallet.top_ups
    ADD CONSTRAINT top_ups_transfer_id_fkey FOREIGN KEY (transfer_id, channel_id) REFERENCES wallet.transfers (id, channel_id);
ALTER TABLE wallet.monthly_credits
    ADD CONSTRAINT monthly_credits_transfer_id_fkey FOREIGN KEY (transfer_id, channel_id) REFERENCES wallet.transfers (id, channel_id);
ALTER TABLE wallet.top_up_attempts
    ADD CONSTRAINT top_up_attempts_top_up_id_fkey FOREIGN KEY (top_up_id, channel_id) REFERENCES wallet.top_ups (id, channel_id);
