-- The web console: people's passwords (Argon2 PHC strings, never the
-- password) and console sessions (the SHA-256 of the cookie, never the
-- cookie). Both leave with their user; a session without a user is an
-- operator's (signed in with the admin token).
CREATE TABLE user_passwords (
    union_id TEXT PRIMARY KEY REFERENCES users (union_id) ON DELETE CASCADE,
    phc      TEXT NOT NULL,
    set_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE console_sessions (
    session_hash TEXT PRIMARY KEY,
    union_id     TEXT REFERENCES users (union_id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    CHECK (expires_at > created_at)
) WITHOUT ROWID;
-- A new password ends the user's sessions; the sweeper purges by expiry.
CREATE INDEX console_sessions_by_user ON console_sessions (union_id) WHERE union_id IS NOT NULL;
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);

-- The console's list of a person's spaces: their own (USER spaces name
-- their owner; the ones granted come from grants_by_member), or, for an org
-- admin, the org's newest first.
CREATE INDEX spaces_by_owner ON spaces (corp_id, owner_type, owner_id);
CREATE INDEX spaces_by_org_age ON spaces (corp_id, created_at, space_id);
