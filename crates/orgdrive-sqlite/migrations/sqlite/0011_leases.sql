-- Claims on background work, so that nodes sharing a store run each piece
-- once and take over the work of a node that died (its claim expires).

-- A running task's node and how long its claim lasts.
ALTER TABLE tasks ADD COLUMN lease_node INTEGER;
ALTER TABLE tasks ADD COLUMN lease_until INTEGER;

-- Periodic jobs (the sweeper): which node runs them, until when.
CREATE TABLE job_leases (
    name     TEXT PRIMARY KEY,
    node     INTEGER NOT NULL,
    until_ms INTEGER NOT NULL
);
