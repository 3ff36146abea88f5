-- Files and folders, their history versions and app properties; upload sessions.

-- Org-wide byte counter, charged in the same transaction as each space's, so
-- that the org capacity is enforced atomically.
ALTER TABLE orgs ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0);

CREATE TABLE dentries (
    dentry_id   TEXT PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    space_id    TEXT NOT NULL REFERENCES spaces (space_id) ON DELETE RESTRICT,
    parent_id   TEXT NOT NULL,                       -- '0' = the space root
    kind        TEXT NOT NULL CHECK (kind IN ('FILE', 'FOLDER')),
    name        TEXT NOT NULL,
    size        INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),   -- 0 for folders
    version     INTEGER NOT NULL DEFAULT 1,
    status      TEXT NOT NULL CHECK (status IN ('NORMAL', 'DELETED', 'EXPIRED')),
    blob_key    TEXT,                                -- content object, files only
    creator_id  TEXT NOT NULL,
    modifier_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    CHECK ((kind = 'FILE') = (blob_key IS NOT NULL))
);
-- Live names are unique among siblings (files and folders alike).
CREATE UNIQUE INDEX dentries_live_name ON dentries (space_id, parent_id, name)
    WHERE status = 'NORMAL';
-- Keyset pagination, one index per ListDentries ordering and one for ListAllDentries.
CREATE INDEX dentries_by_modified ON dentries (space_id, parent_id, modified_at, dentry_id)
    WHERE status = 'NORMAL';
CREATE INDEX dentries_by_created ON dentries (space_id, parent_id, created_at, dentry_id)
    WHERE status = 'NORMAL';
CREATE INDEX dentries_by_size ON dentries (space_id, parent_id, size, dentry_id)
    WHERE status = 'NORMAL';
CREATE INDEX dentries_by_name ON dentries (space_id, parent_id, name, dentry_id)
    WHERE status = 'NORMAL';
CREATE INDEX dentries_all_by_modified ON dentries (space_id, modified_at, dentry_id)
    WHERE status = 'NORMAL';

-- Earlier contents of a file, kept when a commit overwrites it.
CREATE TABLE dentry_versions (
    dentry_id   TEXT NOT NULL REFERENCES dentries (dentry_id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    blob_key    TEXT NOT NULL,
    modifier_id TEXT NOT NULL,
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (dentry_id, version)
);

CREATE TABLE app_properties (
    dentry_id  TEXT NOT NULL REFERENCES dentries (dentry_id) ON DELETE CASCADE,
    app_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('PUBLIC', 'PRIVATE')),
    PRIMARY KEY (dentry_id, app_id, name)
);

-- An upload in progress. Committing deletes the row in the transaction that
-- creates the file, so a key is used at most once; the sweeper deletes expired
-- rows and then their bytes.
CREATE TABLE uploads (
    upload_key  TEXT PRIMARY KEY,
    space_id    TEXT NOT NULL REFERENCES spaces (space_id) ON DELETE CASCADE,
    app_id      TEXT NOT NULL,
    union_id    TEXT NOT NULL,
    multipart   INTEGER NOT NULL CHECK (multipart IN (0, 1)),
    check_name      TEXT,
    check_parent_id TEXT,
    check_size      INTEGER,
    check_md5       TEXT,
    max_bytes   INTEGER,                             -- refuse PUTs beyond this
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX uploads_by_expiry ON uploads (expires_at);

-- Bytes received for an upload: part 0 is a single PUT, 1..10000 multipart parts.
CREATE TABLE upload_parts (
    upload_key  TEXT NOT NULL REFERENCES uploads (upload_key) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    md5         TEXT NOT NULL,
    PRIMARY KEY (upload_key, part_number)
);
