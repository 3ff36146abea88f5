-- Claims on tasks (SQLite's 0011_leases.sql, the tasks part): the node
-- running a task and until when its claim lasts, so that nodes sharing the
-- store run each task once and take over the task of a node that died.
ALTER TABLE tasks ADD COLUMN lease_node BIGINT;
ALTER TABLE tasks ADD COLUMN lease_until BIGINT;
