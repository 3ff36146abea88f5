-- Fewer index entries per event. Every write appends an event (one heap row
-- and an entry in each of its indexes), and the sequencer numbers it later
-- (a new row version and an entry in each index again): nine index entries
-- an event, more than the dentry it reports cost.
--
-- - `event_id` is not looked up: nothing reads an event by its id. It is
--   48 bits of time and 80 random bits (`events::append`), unique the way
--   a UUIDv7 is; its unique index is dropped.
-- - `seq` and `(corp_id, seq)` are only ever read for numbered events
--   (delivery pages by `seq`, purges by `seq`), so their indexes hold the
--   numbered rows alone: an event enters them when it is numbered, not
--   also when it is appended with `seq` NULL.
--
-- Appending now writes 2 index entries (the key, `events_unsequenced`),
-- numbering 3 (the key, `events_seq`, `events_by_org`).
--
-- The new indexes are built under a lock that holds back writes of
-- `events`, that is every write of a running node; events are purged by
-- age, so the table is small, and the wait for the lock is bounded, as in
-- migration 6.
SET LOCAL lock_timeout = '10s';
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_event_id_key;
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_seq_key;
CREATE UNIQUE INDEX events_seq ON events (seq) WHERE seq IS NOT NULL;
DROP INDEX IF EXISTS events_by_org;
CREATE INDEX events_by_org ON events (corp_id, seq) WHERE seq IS NOT NULL;
