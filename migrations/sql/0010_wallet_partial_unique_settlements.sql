-- "A hold is settled once, a transfer reversed once" as partial unique indexes: the same rule
-- (NULLs never conflicted), but the many transfers that settle and reverse nothing (every
-- hold, top-up and credit) no longer add an entry to each index.
ALTER TABLE wallet.transfers DROP CONSTRAINT transfers_settles_once, DROP CONSTRAINT transfers_reversed_once;
CREATE UNIQUE INDEX transfers_settles_once ON wallet.transfers (settles) WHERE settles IS NOT NULL;
CREATE UNIQUE INDEX transfers_reversed_once ON wallet.transfers (reverses) WHERE reverses IS NOT NULL;
