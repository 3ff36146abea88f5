-- Two indexes every AddFolder paid a page write for, and nothing needed:
-- - subtree walks go down through `dentries_live_name` (space_id, parent_id,
--   name) WHERE status = 'NORMAL', whose prefix is the walk's key; the
--   second index of live children held the same rows;
-- - events are purged by age from the oldest up in commit order (`seq`,
--   the table's rowid), stopping at the first one young enough, so no index
--   orders them by time.
DROP INDEX IF EXISTS dentries_live_children;
DROP INDEX IF EXISTS events_by_time;
