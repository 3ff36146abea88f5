-- An index every put and rename paid for, and nothing needed: a folder's
-- name pages order by the name alone (unique among a folder's live
-- entries), along the unique `dentries_live_name`, which holds the same
-- keys but `dentry_id` (`dentries.rs keyset_sql`).
--
-- DROP INDEX locks `dentries` against every read and write until the
-- migration commits; waiting for that lock behind a long transaction of a
-- running node would hold every other request of the database behind it.
-- So the wait is bounded: past it the migration fails, changes nothing,
-- and the node starting says why (start it again when the database is
-- quieter).
SET LOCAL lock_timeout = '10s';
DROP INDEX IF EXISTS dentries_by_name;
