-- An index every AddFolder paid for (and the sequencer's numbering `UPDATE`
-- again), and nothing needed: events are purged by age from the oldest up
-- in commit order (`seq`), stopping at the first one young enough, so no
-- index orders them by time. (`dentries_live_children` stays here, unlike
-- in SQLite: under a generic plan PostgreSQL's estimates for the subtree
-- walks' step favour a scan unless an index leads with `parent_id`.)
DROP INDEX IF EXISTS events_by_time;
