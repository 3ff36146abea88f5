-- Two indexes every AddFolder paid a page write for, and nothing needed:
-- - subtree walks go down through any index of live dentries led by
--   (space_id, parent_id), the walk's key (`dentries_live_name`,
--   `dentries_by_modified`, … all WHERE status = 'NORMAL'); the index of
--   live children by (parent_id, space_id) held the same rows again;
-- - events are purged by age from the oldest up in commit order (`seq`,
--   the table's rowid), stopping at the first one young enough, so no index
--   orders them by time.
DROP INDEX IF EXISTS dentries_live_children;
DROP INDEX IF EXISTS events_by_time;
