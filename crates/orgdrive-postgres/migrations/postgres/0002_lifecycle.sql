-- Claims on background work (SQLite's 0011_leases.sql), so that nodes
-- sharing the store run each piece once and take over the work of a node
-- that died (its claim expires). `IF NOT EXISTS`: the whole-schema file
-- may come to hold them too.

-- A running task's node and how long its claim lasts.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS lease_node BIGINT;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS lease_until BIGINT;

-- Periodic jobs (the sweeper): which node runs them, until when.
CREATE TABLE IF NOT EXISTS job_leases (
    name     TEXT COLLATE "C" CONSTRAINT job_leases_pkey PRIMARY KEY,
    node     BIGINT NOT NULL,
    until_ms BIGINT NOT NULL
);
