-- An index every put and rename paid for, and nothing needed: a folder's
-- name pages order by the name alone (unique among a folder's live
-- entries), along the unique `dentries_live_name`, which holds the same
-- keys but `dentry_id` (`dentries.rs keyset_sql`).
DROP INDEX IF EXISTS dentries_by_name;
