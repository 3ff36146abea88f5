-- The whole schema (SQLite's migrations 0001..0011 as one file), for PostgreSQL.
-- Times are Unix milliseconds (BIGINT, UTC); ids are decimal or opaque strings.
-- Every id or name column that is ordered or compared is `COLLATE "C"`: names
-- compare bytewise, as SQLite's BINARY does, and the indexes serve the keyset
-- pages in that order. Constraints a violation of which the store maps to a
-- contract error are named explicitly (see `error.rs`).

-- Server nodes: each starting node takes a number.
CREATE TABLE nodes (
    node_id    BIGINT GENERATED ALWAYS AS IDENTITY CONSTRAINT nodes_pkey PRIMARY KEY,
    started_at BIGINT NOT NULL
);

CREATE TABLE orgs (
    corp_id        TEXT COLLATE "C" CONSTRAINT orgs_pkey PRIMARY KEY,
    name           TEXT NOT NULL,
    capacity       BIGINT CHECK (capacity IS NULL OR capacity >= 0),
    created_at     BIGINT NOT NULL,
    modified_at    BIGINT NOT NULL,
    -- Org-wide byte counters, charged in the same transaction as each
    -- space's, so that the org capacity is enforced atomically.
    used_bytes     BIGINT NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    reserved_bytes BIGINT NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0)
);

CREATE TABLE apps (
    app_id      TEXT COLLATE "C" CONSTRAINT apps_pkey PRIMARY KEY,
    corp_id     TEXT COLLATE "C" NOT NULL
        CONSTRAINT apps_corp_fkey REFERENCES orgs (corp_id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    app_key     TEXT COLLATE "C" NOT NULL CONSTRAINT apps_app_key_key UNIQUE,
    secret_salt TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    CONSTRAINT apps_corp_app_key UNIQUE (corp_id, app_id)
);
CREATE INDEX apps_by_org ON apps (corp_id, created_at, app_id);

CREATE TABLE users (
    union_id   TEXT COLLATE "C" CONSTRAINT users_pkey PRIMARY KEY,
    corp_id    TEXT COLLATE "C" NOT NULL
        CONSTRAINT users_corp_fkey REFERENCES orgs (corp_id) ON DELETE CASCADE,
    user_id    TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    org_admin  BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT users_corp_user_key UNIQUE (corp_id, user_id),
    CONSTRAINT users_corp_union_key UNIQUE (corp_id, union_id)
);

CREATE TABLE depts (
    dept_id    TEXT COLLATE "C" CONSTRAINT depts_pkey PRIMARY KEY,
    corp_id    TEXT COLLATE "C" NOT NULL
        CONSTRAINT depts_corp_fkey REFERENCES orgs (corp_id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    parent_id  TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    CONSTRAINT depts_corp_dept_key UNIQUE (corp_id, dept_id),
    -- a parent is a department of the same org; a department with children
    -- cannot be deleted
    CONSTRAINT depts_parent_fkey FOREIGN KEY (corp_id, parent_id)
        REFERENCES depts (corp_id, dept_id) ON DELETE RESTRICT
);
CREATE INDEX depts_by_parent ON depts (corp_id, parent_id);

CREATE TABLE dept_members (
    corp_id  TEXT COLLATE "C" NOT NULL,
    dept_id  TEXT COLLATE "C" NOT NULL,
    union_id TEXT COLLATE "C" NOT NULL,
    CONSTRAINT dept_members_pkey PRIMARY KEY (dept_id, union_id),
    CONSTRAINT dept_members_dept_fkey FOREIGN KEY (corp_id, dept_id)
        REFERENCES depts (corp_id, dept_id) ON DELETE CASCADE,
    CONSTRAINT dept_members_user_fkey FOREIGN KEY (corp_id, union_id)
        REFERENCES users (corp_id, union_id) ON DELETE CASCADE
);
CREATE INDEX dept_members_by_user ON dept_members (corp_id, union_id);

-- GetAccessToken returns the app's live token again (extending its life up
-- to a cap from `issued_at`): the token is derived from the stored nonce
-- with the server's secret, and an app holds at most one such token.
CREATE TABLE access_tokens (
    token_hash TEXT COLLATE "C" CONSTRAINT access_tokens_pkey PRIMARY KEY,
    app_id     TEXT COLLATE "C" NOT NULL
        CONSTRAINT access_tokens_app_fkey REFERENCES apps (app_id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    nonce      TEXT,
    issued_at  BIGINT
);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);
CREATE UNIQUE INDEX access_tokens_issued_per_app ON access_tokens (app_id)
    WHERE nonce IS NOT NULL;

CREATE TABLE spaces (
    space_id               TEXT COLLATE "C" CONSTRAINT spaces_pkey PRIMARY KEY,
    corp_id                TEXT COLLATE "C" NOT NULL,
    app_id                 TEXT COLLATE "C" NOT NULL,
    scene                  TEXT COLLATE "C" NOT NULL,
    scene_id               TEXT COLLATE "C" NOT NULL,
    name                   TEXT,
    owner_type             TEXT NOT NULL CHECK (owner_type IN ('USER', 'APP')),
    owner_id               TEXT COLLATE "C" NOT NULL,
    creator_id             TEXT COLLATE "C" NOT NULL,
    modifier_id            TEXT COLLATE "C" NOT NULL,
    quota                  BIGINT CHECK (quota IS NULL OR quota >= 0),
    used_bytes             BIGINT NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    reserved_bytes         BIGINT NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0),
    status                 TEXT NOT NULL CHECK (status IN ('NORMAL', 'DELETE')),
    can_search             BOOLEAN NOT NULL,
    can_rename             BOOLEAN NOT NULL,
    can_record_recent_file BOOLEAN NOT NULL,
    created_at             BIGINT NOT NULL,
    modified_at            BIGINT NOT NULL,
    -- AddSpace is idempotent on (org, app, scene, sceneId): this key makes it
    -- so under concurrency
    CONSTRAINT spaces_scene_key UNIQUE (corp_id, app_id, scene, scene_id),
    -- an org or app that still owns spaces cannot be deleted
    CONSTRAINT spaces_corp_fkey FOREIGN KEY (corp_id)
        REFERENCES orgs (corp_id) ON DELETE RESTRICT,
    CONSTRAINT spaces_app_fkey FOREIGN KEY (corp_id, app_id)
        REFERENCES apps (corp_id, app_id) ON DELETE RESTRICT
);
CREATE INDEX spaces_by_app ON spaces (app_id);

CREATE TABLE dentries (
    dentry_id       TEXT COLLATE "C" CONSTRAINT dentries_pkey PRIMARY KEY,
    uuid            TEXT COLLATE "C" NOT NULL CONSTRAINT dentries_uuid_key UNIQUE,
    space_id        TEXT COLLATE "C" NOT NULL
        CONSTRAINT dentries_space_fkey REFERENCES spaces (space_id) ON DELETE RESTRICT,
    parent_id       TEXT COLLATE "C" NOT NULL,             -- '0' = the space root
    kind            TEXT NOT NULL CHECK (kind IN ('FILE', 'FOLDER')),
    name            TEXT COLLATE "C" NOT NULL,
    size            BIGINT NOT NULL DEFAULT 0 CHECK (size >= 0),   -- 0 for folders
    version         BIGINT NOT NULL DEFAULT 1,
    status          TEXT NOT NULL CHECK (status IN ('NORMAL', 'DELETED', 'EXPIRED')),
    blob_key        TEXT COLLATE "C",                      -- content object, files only
    creator_id      TEXT COLLATE "C" NOT NULL,
    modifier_id     TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    modified_at     BIGINT NOT NULL,
    -- A binned dentry names the recycle item it was deleted with.
    recycle_item_id TEXT COLLATE "C",
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
CREATE INDEX dentries_by_recycle_item ON dentries (recycle_item_id, parent_id)
    WHERE recycle_item_id IS NOT NULL;
-- Subtree walks over live children (any name order).
CREATE INDEX dentries_live_children ON dentries (parent_id, space_id)
    WHERE status = 'NORMAL';
-- Content objects are shared by copies: "is this object still referred to?"
CREATE INDEX dentries_by_blob ON dentries (blob_key) WHERE blob_key IS NOT NULL;

-- Earlier contents of a file, kept when a commit overwrites it.
CREATE TABLE dentry_versions (
    dentry_id   TEXT COLLATE "C" NOT NULL
        CONSTRAINT dentry_versions_dentry_fkey REFERENCES dentries (dentry_id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL,
    blob_key    TEXT COLLATE "C" NOT NULL,
    modifier_id TEXT COLLATE "C" NOT NULL,
    modified_at BIGINT NOT NULL,
    CONSTRAINT dentry_versions_pkey PRIMARY KEY (dentry_id, version)
);
CREATE INDEX dentry_versions_by_blob ON dentry_versions (blob_key);

CREATE TABLE app_properties (
    dentry_id  TEXT COLLATE "C" NOT NULL
        CONSTRAINT app_properties_dentry_fkey REFERENCES dentries (dentry_id) ON DELETE CASCADE,
    app_id     TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    value      TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('PUBLIC', 'PRIVATE')),
    CONSTRAINT app_properties_pkey PRIMARY KEY (dentry_id, app_id, name)
);

-- An upload in progress. Committing deletes the row in the transaction that
-- creates the file, so a key is used at most once; the sweeper deletes
-- expired rows and then their bytes. `reserved_bytes`: what the upload holds
-- in its space's and org's reserved counters (its recorded parts plus the
-- PUTs in flight), always equal per space to spaces.reserved_bytes and per
-- org to orgs.reserved_bytes (changed in the same transactions).
CREATE TABLE uploads (
    upload_key      TEXT COLLATE "C" CONSTRAINT uploads_pkey PRIMARY KEY,
    space_id        TEXT COLLATE "C" NOT NULL
        CONSTRAINT uploads_space_fkey REFERENCES spaces (space_id) ON DELETE CASCADE,
    app_id          TEXT COLLATE "C" NOT NULL,
    union_id        TEXT COLLATE "C" NOT NULL,
    multipart       BOOLEAN NOT NULL,
    check_name      TEXT,
    check_parent_id TEXT,
    check_size      BIGINT,
    check_md5       TEXT,
    max_bytes       BIGINT,                                -- refuse PUTs beyond this
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    reserved_bytes  BIGINT NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0)
);
CREATE INDEX uploads_by_expiry ON uploads (expires_at);
-- The caps on open uploads count by these.
CREATE INDEX uploads_by_space ON uploads (space_id);
CREATE INDEX uploads_by_app ON uploads (app_id);

-- Bytes received for an upload: part 0 is a single PUT, 1..10000 multipart
-- parts; `object_key` is the fresh object the PUT wrote (no URL names it).
CREATE TABLE upload_parts (
    upload_key  TEXT COLLATE "C" NOT NULL
        CONSTRAINT upload_parts_upload_fkey REFERENCES uploads (upload_key) ON DELETE CASCADE,
    part_number BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    md5         TEXT NOT NULL,
    object_key  TEXT COLLATE "C" NOT NULL,
    CONSTRAINT upload_parts_pkey PRIMARY KEY (upload_key, part_number)
);

-- Bins are views over items: the SPACE bin shows its space's items, the APP
-- bin its app's, the ORG bin its org's. One bin per (org, scope, scope id).
CREATE TABLE recycle_bins (
    recycle_bin_id TEXT COLLATE "C" CONSTRAINT recycle_bins_pkey PRIMARY KEY,
    corp_id        TEXT COLLATE "C" NOT NULL,
    scope          TEXT NOT NULL CHECK (scope IN ('ORG', 'APP', 'SPACE')),
    scope_id       TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL,
    CONSTRAINT recycle_bins_scope_key UNIQUE (corp_id, scope, scope_id)
);

CREATE TABLE recycle_items (
    recycle_item_id TEXT COLLATE "C" CONSTRAINT recycle_items_pkey PRIMARY KEY,
    corp_id         TEXT COLLATE "C" NOT NULL,
    app_id          TEXT COLLATE "C" NOT NULL,
    space_id        TEXT COLLATE "C" NOT NULL
        CONSTRAINT recycle_items_space_fkey REFERENCES spaces (space_id) ON DELETE RESTRICT,
    dentry_id       TEXT COLLATE "C" NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('FILE', 'FOLDER')),
    name            TEXT COLLATE "C" NOT NULL,
    path            TEXT COLLATE "C" NOT NULL,
    parent_id       TEXT COLLATE "C" NOT NULL,
    size            BIGINT NOT NULL CHECK (size >= 0),
    operator_id     TEXT COLLATE "C" NOT NULL,
    deleted_at      BIGINT NOT NULL,
    entries         BIGINT NOT NULL CHECK (entries >= 1)
);
-- Newest first, per bin scope.
CREATE INDEX recycle_items_by_space ON recycle_items (space_id, deleted_at, recycle_item_id);
CREATE INDEX recycle_items_by_app ON recycle_items (app_id, deleted_at, recycle_item_id);
CREATE INDEX recycle_items_by_org ON recycle_items (corp_id, deleted_at, recycle_item_id);

CREATE TABLE tasks (
    task_id              TEXT COLLATE "C" CONSTRAINT tasks_pkey PRIMARY KEY,
    corp_id              TEXT COLLATE "C" NOT NULL,
    app_id               TEXT COLLATE "C" NOT NULL,
    operator_id          TEXT COLLATE "C" NOT NULL,
    op                   TEXT NOT NULL CHECK (op IN ('MOVE', 'COPY', 'DELETE', 'RESTORE')),
    space_id             TEXT COLLATE "C",
    dentry_id            TEXT COLLATE "C",
    target_space_id      TEXT COLLATE "C",
    target_parent_id     TEXT COLLATE "C",
    conflict             TEXT,
    new_dentry_id        TEXT COLLATE "C",
    new_uuid             TEXT COLLATE "C",
    recycle_item_id      TEXT COLLATE "C",
    status               TEXT NOT NULL
        CHECK (status IN ('INIT', 'IN_PROGRESS', 'SUCCESS', 'FAIL')),
    total_count          BIGINT NOT NULL DEFAULT 0,
    success_count        BIGINT NOT NULL DEFAULT 0,
    fail_count           BIGINT NOT NULL DEFAULT 0,
    fail_message         TEXT,
    attempts             BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    begin_at             BIGINT,
    end_at               BIGINT,
    -- A move task remembers whether the moved dentries keep their grants, and
    -- whether it may remove OWNER grants (the operator's role decided it).
    keep_grants          BOOLEAN NOT NULL DEFAULT FALSE,
    protect_owner_grants BOOLEAN NOT NULL DEFAULT FALSE,
    -- A running task's node and how long its claim lasts.
    lease_node           BIGINT,
    lease_until          BIGINT
);
CREATE INDEX tasks_unfinished ON tasks (created_at, task_id)
    WHERE status IN ('INIT', 'IN_PROGRESS');
-- The cap on an app's unfinished tasks counts by this.
CREATE INDEX tasks_unfinished_by_app ON tasks (app_id) WHERE status IN ('INIT', 'IN_PROGRESS');
CREATE INDEX tasks_by_end ON tasks (end_at) WHERE end_at IS NOT NULL;

-- Periodic jobs (the sweeper): which node runs them, until when.
CREATE TABLE job_leases (
    name     TEXT COLLATE "C" CONSTRAINT job_leases_pkey PRIMARY KEY,
    node     BIGINT NOT NULL,
    until_ms BIGINT NOT NULL
);

-- Content objects nothing refers to any more, written in the transaction
-- that dropped the last reference; deleted from the blob store afterwards
-- (at once, or by the sweeper after a crash). `id` orders them oldest first.
CREATE TABLE trashed_objects (
    object_key TEXT COLLATE "C" CONSTRAINT trashed_objects_pkey PRIMARY KEY,
    trashed_at BIGINT NOT NULL,
    id         BIGINT GENERATED ALWAYS AS IDENTITY CONSTRAINT trashed_objects_id_key UNIQUE
);

-- Permissions: roles granted on a space's root (dentry_id '0') or on any of
-- its dentries, to a user, a department or the org. One grant per member
-- and dentry (the key).
CREATE TABLE grants (
    space_id       TEXT COLLATE "C" NOT NULL
        CONSTRAINT grants_space_fkey REFERENCES spaces (space_id) ON DELETE CASCADE,
    dentry_id      TEXT COLLATE "C" NOT NULL,
    member_type    TEXT COLLATE "C" NOT NULL CHECK (member_type IN ('USER', 'DEPT', 'ORG')),
    member_id      TEXT COLLATE "C" NOT NULL,
    member_corp_id TEXT COLLATE "C" NOT NULL,
    role           TEXT COLLATE "C" NOT NULL
        CHECK (role IN ('OWNER', 'MANAGER', 'EDITOR', 'DOWNLOADER', 'READER')),
    duration_secs  BIGINT CHECK (duration_secs IS NULL OR duration_secs > 0),
    expires_at     BIGINT,
    operator_id    TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL,
    modified_at    BIGINT NOT NULL,
    CONSTRAINT grants_pkey PRIMARY KEY (space_id, dentry_id, member_type, member_id),
    CHECK ((duration_secs IS NULL) = (expires_at IS NULL))
);
-- Grants leave with their dentries (delete, bin, move), found by dentry.
CREATE INDEX grants_by_dentry ON grants (dentry_id);
-- Grants leave with the user or department they name.
CREATE INDEX grants_by_member ON grants (member_type, member_id);
-- The sweeper's purge of expired grants.
CREATE INDEX grants_by_expiry ON grants (expires_at) WHERE expires_at IS NOT NULL;

-- Thumbnails: one per content object (files and versions sharing content
-- share it), or the record that none can be made. A thumbnail leaves with
-- its content object: the transaction that trashes the content object
-- deletes the row and trashes the thumbnail's object.
CREATE TABLE thumbnails (
    blob_key   TEXT COLLATE "C" CONSTRAINT thumbnails_pkey PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('READY', 'FAILED')),
    object_key TEXT COLLATE "C" CONSTRAINT thumbnails_object_key UNIQUE,
    width      BIGINT NOT NULL CHECK (width >= 0),
    height     BIGINT NOT NULL CHECK (height >= 0),
    size       BIGINT NOT NULL CHECK (size >= 0),
    created_at BIGINT NOT NULL,
    CHECK ((status = 'READY') = (object_key IS NOT NULL))
);

-- The outbox: one row per event, appended by the transaction of the change
-- that produced it, with `seq` NULL. A sequence value is taken before
-- commit, so `appended` is not commit order; `seq` is assigned later, by
-- the lazy sequencer (`events::sequence_pending`), to the rows visible to
-- it, in `appended` order, after the last one it gave (`event_sequencer`):
-- so `seq` follows visibility (commit) order and never goes back, even
-- after the oldest rows are purged.
CREATE TABLE events (
    appended           BIGINT GENERATED ALWAYS AS IDENTITY CONSTRAINT events_pkey PRIMARY KEY,
    seq                BIGINT CONSTRAINT events_seq_key UNIQUE,
    event_id           TEXT COLLATE "C" NOT NULL CONSTRAINT events_event_id_key UNIQUE,
    event_type         TEXT COLLATE "C" NOT NULL,
    corp_id            TEXT COLLATE "C" NOT NULL,
    app_id             TEXT COLLATE "C" NOT NULL,
    space_id           TEXT COLLATE "C" NOT NULL,
    dentry_id          TEXT COLLATE "C" NOT NULL,
    operator_id        TEXT COLLATE "C" NOT NULL,
    at_ms              BIGINT NOT NULL,
    parent_id          TEXT COLLATE "C",
    name               TEXT COLLATE "C",
    dentry_type        TEXT COLLATE "C",
    size               BIGINT,
    version            BIGINT,
    previous_space_id  TEXT COLLATE "C",
    previous_app_id    TEXT COLLATE "C",
    previous_parent_id TEXT COLLATE "C",
    previous_name      TEXT COLLATE "C",
    source_space_id    TEXT COLLATE "C",
    source_dentry_id   TEXT COLLATE "C",
    recycle_item_id    TEXT COLLATE "C",
    member_type        TEXT COLLATE "C",
    member_id          TEXT COLLATE "C",
    role               TEXT COLLATE "C"
);
-- The rows the sequencer has still to number.
CREATE INDEX events_unsequenced ON events (appended) WHERE seq IS NULL;
CREATE INDEX events_by_time ON events (at_ms);
-- Each org's newest events are kept up to a count (purge_events).
CREATE INDEX events_by_org ON events (corp_id, seq);

-- The last `seq` the sequencer gave (one row).
CREATE TABLE event_sequencer (
    singleton BOOLEAN CONSTRAINT event_sequencer_pkey PRIMARY KEY DEFAULT TRUE
        CHECK (singleton),
    last_seq  BIGINT NOT NULL
);
INSERT INTO event_sequencer (singleton, last_seq) VALUES (TRUE, 0);

-- SubscribeEvent: an app receives the events after from_seq in its scope.
CREATE TABLE event_subscriptions (
    app_id      TEXT COLLATE "C" NOT NULL
        CONSTRAINT event_subscriptions_app_fkey REFERENCES apps (app_id) ON DELETE CASCADE,
    scope       TEXT COLLATE "C" NOT NULL CHECK (scope IN ('ORG', 'SPACE')),
    scope_id    TEXT COLLATE "C" NOT NULL,
    corp_id     TEXT COLLATE "C" NOT NULL,
    operator_id TEXT COLLATE "C" NOT NULL,
    from_seq    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT event_subscriptions_pkey PRIMARY KEY (app_id, scope, scope_id)
);

-- Each subscribed app's delivery position and the lease of the node
-- delivering it (one node at a time per app).
CREATE TABLE event_cursors (
    app_id          TEXT COLLATE "C"
        CONSTRAINT event_cursors_pkey PRIMARY KEY
        CONSTRAINT event_cursors_app_fkey REFERENCES apps (app_id) ON DELETE CASCADE,
    corp_id         TEXT COLLATE "C" NOT NULL,
    last_seq        BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    lease_node      BIGINT,
    lease_until_ms  BIGINT NOT NULL DEFAULT 0
);

-- An app's encrypted HTTP callback (the developer console's setting).
CREATE TABLE event_callbacks (
    app_id     TEXT COLLATE "C"
        CONSTRAINT event_callbacks_pkey PRIMARY KEY
        CONSTRAINT event_callbacks_app_fkey REFERENCES apps (app_id) ON DELETE CASCADE,
    corp_id    TEXT COLLATE "C" NOT NULL,
    url        TEXT NOT NULL,
    token      TEXT NOT NULL,
    aes_key    TEXT NOT NULL,
    owner_key  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Stream-mode tickets already used, until they expire (a ticket opens one
-- connection, on any node, across restarts).
CREATE TABLE stream_tickets (
    nonce      TEXT COLLATE "C" CONSTRAINT stream_tickets_pkey PRIMARY KEY,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX stream_tickets_by_expiry ON stream_tickets (expires_ms);

-- Registered open links (RegisterOpenInfo): one URL per dentry, provider
-- and open type. `id` grows with each registration (a replaced link is
-- deleted and inserted again), so the highest id of a type is the most
-- recent. They leave with their dentry when it is removed for good; a
-- binned dentry keeps its row, and so its links.
CREATE TABLE open_links (
    id            BIGINT GENERATED ALWAYS AS IDENTITY CONSTRAINT open_links_pkey PRIMARY KEY,
    dentry_id     TEXT COLLATE "C" NOT NULL
        CONSTRAINT open_links_dentry_fkey REFERENCES dentries (dentry_id) ON DELETE CASCADE,
    provider      TEXT COLLATE "C" NOT NULL,
    open_type     TEXT COLLATE "C" NOT NULL CHECK (open_type IN ('PREVIEW', 'EDIT')),
    url           TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    CONSTRAINT open_links_type_key UNIQUE (dentry_id, provider, open_type)
);
CREATE INDEX open_links_by_type ON open_links (dentry_id, open_type, id);

-- WOPI (WebOffice): token pairs of GetWebOfficeUrl / RefreshWebOfficeToken
-- (only SHA-256 hashes) and the locks WOPI clients hold on files. A rotated
-- row is kept until its refresh expiry, so that a reuse of a rotated
-- refresh token is recognised and revokes the whole family.
CREATE TABLE wopi_tokens (
    access_hash        TEXT COLLATE "C" CONSTRAINT wopi_tokens_pkey PRIMARY KEY,
    refresh_hash       TEXT COLLATE "C" NOT NULL CONSTRAINT wopi_tokens_refresh_key UNIQUE,
    family_id          TEXT COLLATE "C" NOT NULL,
    corp_id            TEXT COLLATE "C" NOT NULL,
    app_id             TEXT COLLATE "C" NOT NULL,
    union_id           TEXT COLLATE "C" NOT NULL,
    space_id           TEXT COLLATE "C" NOT NULL,
    dentry_id          TEXT COLLATE "C" NOT NULL,
    created_at         BIGINT NOT NULL,
    access_expires_at  BIGINT NOT NULL,
    refresh_expires_at BIGINT NOT NULL,
    rotated_at         BIGINT,
    CHECK (refresh_expires_at >= access_expires_at)
);
CREATE INDEX wopi_tokens_family ON wopi_tokens (family_id);
CREATE INDEX wopi_tokens_expiry ON wopi_tokens (refresh_expires_at);
-- A user's WebOffice tokens leave with the user (trigger below).
CREATE INDEX wopi_tokens_by_user ON wopi_tokens (corp_id, union_id);

-- At most one lock per file (the key): LOCK is an upsert that succeeds only
-- over no lock, an expired one, or the same lock id, in one statement.
CREATE TABLE wopi_locks (
    space_id   TEXT COLLATE "C" NOT NULL,
    dentry_id  TEXT COLLATE "C" NOT NULL,
    lock_id    TEXT COLLATE "C" NOT NULL CHECK (length(lock_id) BETWEEN 1 AND 1024),
    expires_at BIGINT NOT NULL,
    CONSTRAINT wopi_locks_pkey PRIMARY KEY (space_id, dentry_id)
);
CREATE INDEX wopi_locks_expiry ON wopi_locks (expires_at);

-- What leaves with a user: the grants naming them and their WebOffice
-- tokens (a user created again under the same unionId starts with nothing).
CREATE FUNCTION user_leaves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM grants WHERE member_type = 'USER' AND member_id = OLD.union_id;
    DELETE FROM wopi_tokens WHERE corp_id = OLD.corp_id AND union_id = OLD.union_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER user_leaves AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION user_leaves();

-- Grants leave with the department they name.
CREATE FUNCTION dept_leaves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM grants WHERE member_type = 'DEPT' AND member_id = OLD.dept_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER dept_leaves AFTER DELETE ON depts
    FOR EACH ROW EXECUTE FUNCTION dept_leaves();
