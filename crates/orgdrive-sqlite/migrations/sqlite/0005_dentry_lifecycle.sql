-- The dentry lifecycle: the recycle bin, persisted tasks, and the trash of
-- content objects no dentry or version refers to any more.

-- A dentry in the recycle bin is DELETED and names the recycle item it was
-- deleted with (the item's root and every dentry of its subtree). The index
-- finds an item's dentries, and (restore) walks an item's subtree by parent.
ALTER TABLE dentries ADD COLUMN recycle_item_id TEXT;
CREATE INDEX dentries_by_recycle_item ON dentries (recycle_item_id, parent_id)
    WHERE recycle_item_id IS NOT NULL;
-- Subtree walks over live children (any name order).
CREATE INDEX dentries_live_children ON dentries (parent_id, space_id)
    WHERE status = 'NORMAL';
-- Content objects are shared by copies: "is this object still referred to?"
CREATE INDEX dentries_by_blob ON dentries (blob_key) WHERE blob_key IS NOT NULL;
CREATE INDEX dentry_versions_by_blob ON dentry_versions (blob_key);

-- Bins are views over items: the SPACE bin shows its space's items, the APP
-- bin its app's, the ORG bin its org's. One bin per (org, scope, scope id).
CREATE TABLE recycle_bins (
    recycle_bin_id TEXT PRIMARY KEY,
    corp_id        TEXT NOT NULL,
    scope          TEXT NOT NULL CHECK (scope IN ('ORG', 'APP', 'SPACE')),
    scope_id       TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (corp_id, scope, scope_id)
);

CREATE TABLE recycle_items (
    recycle_item_id TEXT PRIMARY KEY,
    corp_id         TEXT NOT NULL,
    app_id          TEXT NOT NULL,
    space_id        TEXT NOT NULL REFERENCES spaces (space_id) ON DELETE RESTRICT,
    dentry_id       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('FILE', 'FOLDER')),
    name            TEXT NOT NULL,
    path            TEXT NOT NULL,
    parent_id       TEXT NOT NULL,
    size            INTEGER NOT NULL CHECK (size >= 0),
    operator_id     TEXT NOT NULL,
    deleted_at      INTEGER NOT NULL,
    entries         INTEGER NOT NULL CHECK (entries >= 1)
);
-- Newest first, per bin scope.
CREATE INDEX recycle_items_by_space ON recycle_items (space_id, deleted_at, recycle_item_id);
CREATE INDEX recycle_items_by_app ON recycle_items (app_id, deleted_at, recycle_item_id);

CREATE TABLE tasks (
    task_id          TEXT PRIMARY KEY,
    corp_id          TEXT NOT NULL,
    app_id           TEXT NOT NULL,
    operator_id      TEXT NOT NULL,
    op               TEXT NOT NULL CHECK (op IN ('MOVE', 'COPY', 'DELETE', 'RESTORE')),
    space_id         TEXT,
    dentry_id        TEXT,
    target_space_id  TEXT,
    target_parent_id TEXT,
    conflict         TEXT,
    new_dentry_id    TEXT,
    new_uuid         TEXT,
    recycle_item_id  TEXT,
    status           TEXT NOT NULL CHECK (status IN ('INIT', 'IN_PROGRESS', 'SUCCESS', 'FAIL')),
    total_count      INTEGER NOT NULL DEFAULT 0,
    success_count    INTEGER NOT NULL DEFAULT 0,
    fail_count       INTEGER NOT NULL DEFAULT 0,
    fail_message     TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    begin_at         INTEGER,
    end_at           INTEGER
);
CREATE INDEX tasks_unfinished ON tasks (created_at) WHERE status IN ('INIT', 'IN_PROGRESS');
-- The cap on an app's unfinished tasks counts by this.
CREATE INDEX tasks_unfinished_by_app ON tasks (app_id) WHERE status IN ('INIT', 'IN_PROGRESS');
CREATE INDEX tasks_by_end ON tasks (end_at) WHERE end_at IS NOT NULL;

-- Content objects nothing refers to any more, written in the transaction
-- that dropped the last reference; deleted from the blob store afterwards
-- (at once, or by the sweeper after a crash).
CREATE TABLE trashed_objects (
    object_key TEXT PRIMARY KEY,
    trashed_at INTEGER NOT NULL
);
