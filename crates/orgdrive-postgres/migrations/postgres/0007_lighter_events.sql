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
-- numbering 3 (the key, `events_seq`, `events_numbered_by_org`).
--
-- On a database with events, the two new indexes were built online just
-- before this transaction (`migrate.rs ONLINE_INDEXES`, `CREATE INDEX
-- CONCURRENTLY`, reads and writes going on); here they are only found. On
-- a new database they are built here, on an empty table. What is left is
-- dropping the old ones, under a lock that holds back reads and writes of
-- `events` for a moment; the wait for that lock is bounded, as in
-- migration 6.
SET LOCAL lock_timeout = '10s';
CREATE UNIQUE INDEX IF NOT EXISTS events_seq ON events (seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_numbered_by_org ON events (corp_id, seq) WHERE seq IS NOT NULL;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index
               WHERE indexrelid IN ('events_seq'::regclass, 'events_numbered_by_org'::regclass)
                 AND NOT indisvalid) THEN
        RAISE EXCEPTION 'an index of events is invalid (an online build was interrupted): start again to rebuild it';
    END IF;
END $$;
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_event_id_key;
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_seq_key;
DROP INDEX IF EXISTS events_by_org;
