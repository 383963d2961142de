-- Ownership fencing: every takeover of a run (a server claiming a stopped
-- server's runs, a retry queueing it again) bumps its epoch, and every state
-- change a driver writes is conditional on the epoch it holds, so a driver
-- that stalled past its lease and wakes up writes nothing to a run it lost.
ALTER TABLE runs ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
