-- Identity (orgs, apps, users, departments), access tokens, spaces.
-- Times are Unix milliseconds (UTC); ids are decimal or opaque strings.

CREATE TABLE nodes (
    node_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL
);

CREATE TABLE orgs (
    corp_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    capacity    INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);

CREATE TABLE apps (
    app_id      TEXT PRIMARY KEY,
    corp_id     TEXT NOT NULL REFERENCES orgs (corp_id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    app_key     TEXT NOT NULL UNIQUE,
    secret_salt TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    UNIQUE (corp_id, app_id)
);

CREATE TABLE users (
    union_id    TEXT PRIMARY KEY,
    corp_id     TEXT NOT NULL REFERENCES orgs (corp_id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    org_admin   INTEGER NOT NULL CHECK (org_admin IN (0, 1)),
    created_at  INTEGER NOT NULL,
    UNIQUE (corp_id, user_id),
    UNIQUE (corp_id, union_id)
);

CREATE TABLE depts (
    dept_id     TEXT PRIMARY KEY,
    corp_id     TEXT NOT NULL REFERENCES orgs (corp_id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    parent_id   TEXT,
    created_at  INTEGER NOT NULL,
    UNIQUE (corp_id, dept_id),
    -- a parent is a department of the same org; a department with children cannot be deleted
    FOREIGN KEY (corp_id, parent_id) REFERENCES depts (corp_id, dept_id) ON DELETE RESTRICT
);

CREATE TABLE dept_members (
    corp_id  TEXT NOT NULL,
    dept_id  TEXT NOT NULL,
    union_id TEXT NOT NULL,
    PRIMARY KEY (dept_id, union_id),
    FOREIGN KEY (corp_id, dept_id) REFERENCES depts (corp_id, dept_id) ON DELETE CASCADE,
    FOREIGN KEY (corp_id, union_id) REFERENCES users (corp_id, union_id) ON DELETE CASCADE
);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

CREATE TABLE spaces (
    space_id               TEXT PRIMARY KEY,
    corp_id                TEXT NOT NULL,
    app_id                 TEXT NOT NULL,
    scene                  TEXT NOT NULL,
    scene_id               TEXT NOT NULL,
    name                   TEXT,
    owner_type             TEXT NOT NULL CHECK (owner_type IN ('USER', 'APP')),
    owner_id               TEXT NOT NULL,
    creator_id             TEXT NOT NULL,
    modifier_id            TEXT NOT NULL,
    quota                  INTEGER CHECK (quota IS NULL OR quota >= 0),
    used_bytes             INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    status                 TEXT NOT NULL CHECK (status IN ('NORMAL', 'DELETE')),
    can_search             INTEGER NOT NULL,
    can_rename             INTEGER NOT NULL,
    can_record_recent_file INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    modified_at            INTEGER NOT NULL,
    -- AddSpace is idempotent on (org, app, scene, sceneId): this key makes it so under concurrency
    UNIQUE (corp_id, app_id, scene, scene_id),
    -- an org or app that still owns spaces cannot be deleted
    FOREIGN KEY (corp_id) REFERENCES orgs (corp_id) ON DELETE RESTRICT,
    FOREIGN KEY (corp_id, app_id) REFERENCES apps (corp_id, app_id) ON DELETE RESTRICT
);
CREATE INDEX spaces_by_app ON spaces (app_id);
