-- Keyset pages by name read the unique index of live names: it holds the same
-- rows in the same order (names are unique among live siblings, so
-- `ORDER BY name, dentry_id` needs no sort and `(name, dentry_id) > (?, ?)`
-- seeks in it). The second index only cost every insert, rename and delete
-- a page write.
DROP INDEX IF EXISTS dentries_by_name;
