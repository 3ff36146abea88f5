-- WOPI (WebOffice): token pairs of GetWebOfficeUrl / RefreshWebOfficeToken
-- and the locks WOPI clients hold on files.
--
-- Only SHA-256 hashes of the tokens are stored. A pair is bound to the app,
-- the operator and one file; RefreshWebOfficeToken rotates a pair: the old
-- row is marked rotated (its access token lives on until it expires, its
-- refresh token is dead) and kept until its refresh expiry, so that a reuse
-- of a rotated refresh token is recognised and revokes the whole family.
CREATE TABLE wopi_tokens (
    access_hash        TEXT PRIMARY KEY,
    refresh_hash       TEXT NOT NULL UNIQUE,
    family_id          TEXT NOT NULL,
    corp_id            TEXT NOT NULL,
    app_id             TEXT NOT NULL,
    union_id           TEXT NOT NULL,
    space_id           TEXT NOT NULL,
    dentry_id          TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    access_expires_at  INTEGER NOT NULL,
    refresh_expires_at INTEGER NOT NULL,
    rotated_at         INTEGER,
    CHECK (refresh_expires_at >= access_expires_at)
) WITHOUT ROWID;
CREATE INDEX wopi_tokens_family ON wopi_tokens (family_id);
CREATE INDEX wopi_tokens_expiry ON wopi_tokens (refresh_expires_at);

-- At most one lock per file (the key): LOCK is an upsert that succeeds only
-- over no lock, an expired one, or the same lock id, in one statement.
CREATE TABLE wopi_locks (
    space_id   TEXT NOT NULL,
    dentry_id  TEXT NOT NULL,
    lock_id    TEXT NOT NULL CHECK (length(lock_id) BETWEEN 1 AND 1024),
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (space_id, dentry_id)
) WITHOUT ROWID;
CREATE INDEX wopi_locks_expiry ON wopi_locks (expires_at);

-- A user's WebOffice tokens leave with the user: a later user given the same
-- unionId never inherits them.
CREATE INDEX wopi_tokens_by_user ON wopi_tokens (corp_id, union_id);
CREATE TRIGGER wopi_tokens_leave_with_their_user AFTER DELETE ON users BEGIN
    DELETE FROM wopi_tokens WHERE corp_id = OLD.corp_id AND union_id = OLD.union_id;
END;
