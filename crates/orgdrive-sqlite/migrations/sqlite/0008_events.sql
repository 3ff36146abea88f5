-- The outbox: one row per event, appended by the transaction of the change
-- that produced it. seq is the commit order (AUTOINCREMENT: never reused,
-- even after the oldest rows are purged).
CREATE TABLE events (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id           TEXT NOT NULL UNIQUE,
    event_type         TEXT NOT NULL,
    corp_id            TEXT NOT NULL,
    app_id             TEXT NOT NULL,
    space_id           TEXT NOT NULL,
    dentry_id          TEXT NOT NULL,
    operator_id        TEXT NOT NULL,
    at_ms              INTEGER NOT NULL,
    parent_id          TEXT,
    name               TEXT,
    dentry_type        TEXT,
    size               INTEGER,
    version            INTEGER,
    previous_space_id  TEXT,
    previous_app_id    TEXT,
    previous_parent_id TEXT,
    previous_name      TEXT,
    source_space_id    TEXT,
    source_dentry_id   TEXT,
    recycle_item_id    TEXT,
    member_type        TEXT,
    member_id          TEXT,
    role               TEXT
);
CREATE INDEX events_by_time ON events (at_ms);
-- Each org's newest events are kept up to a count (purge_events).
CREATE INDEX events_by_org ON events (corp_id, seq);

-- SubscribeEvent: an app receives the events after from_seq in its scope.
CREATE TABLE event_subscriptions (
    app_id      TEXT NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
    scope       TEXT NOT NULL CHECK (scope IN ('ORG', 'SPACE')),
    scope_id    TEXT NOT NULL,
    corp_id     TEXT NOT NULL,
    operator_id TEXT NOT NULL,
    from_seq    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (app_id, scope, scope_id)
) WITHOUT ROWID;

-- Each subscribed app's delivery position and the lease of the node
-- delivering it (one node at a time per app).
CREATE TABLE event_cursors (
    app_id          TEXT PRIMARY KEY REFERENCES apps (app_id) ON DELETE CASCADE,
    corp_id         TEXT NOT NULL,
    last_seq        INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    lease_node      INTEGER,
    lease_until_ms  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- An app's encrypted HTTP callback (the developer console's setting).
CREATE TABLE event_callbacks (
    app_id     TEXT PRIMARY KEY REFERENCES apps (app_id) ON DELETE CASCADE,
    corp_id    TEXT NOT NULL,
    url        TEXT NOT NULL,
    token      TEXT NOT NULL,
    aes_key    TEXT NOT NULL,
    owner_key  TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Stream-mode tickets already used, until they expire (a ticket opens one
-- connection, on any node, across restarts).
CREATE TABLE stream_tickets (
    nonce      TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stream_tickets_by_expiry ON stream_tickets (expires_ms);
