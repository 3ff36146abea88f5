-- Content objects of at most 64 KiB kept in the database (`inline/…` keys):
-- a small upload is then one transaction, group-committed with others,
-- instead of a file of its own with two fsyncs. Written once, never updated;
-- removed when nothing references them, as files of the content store are.
CREATE TABLE inline_objects (
    object_key TEXT PRIMARY KEY NOT NULL,
    bytes BLOB NOT NULL
);
