-- Permissions: roles granted on a space's root (dentry_id '0') or on any of
-- its dentries, to a user, a department or the org. One grant per member
-- and dentry (the key); the key's prefix finds a space's grants (the
-- policy's input) and a dentry's (ListPermissions, removal with the dentry).
CREATE TABLE grants (
    space_id       TEXT NOT NULL REFERENCES spaces (space_id) ON DELETE CASCADE,
    dentry_id      TEXT NOT NULL,
    member_type    TEXT NOT NULL CHECK (member_type IN ('USER', 'DEPT', 'ORG')),
    member_id      TEXT NOT NULL,
    member_corp_id TEXT NOT NULL,
    role           TEXT NOT NULL
        CHECK (role IN ('OWNER', 'MANAGER', 'EDITOR', 'DOWNLOADER', 'READER')),
    duration_secs  INTEGER CHECK (duration_secs IS NULL OR duration_secs > 0),
    expires_at     INTEGER,
    operator_id    TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    modified_at    INTEGER NOT NULL,
    PRIMARY KEY (space_id, dentry_id, member_type, member_id),
    CHECK ((duration_secs IS NULL) = (expires_at IS NULL))
) WITHOUT ROWID;
-- Grants leave with their dentries (delete, bin, move), found by dentry.
CREATE INDEX grants_by_dentry ON grants (dentry_id);
-- Grants leave with the user or department they name (a user created
-- again under the same unionId starts with nothing).
CREATE INDEX grants_by_member ON grants (member_type, member_id);
CREATE TRIGGER grants_leave_with_their_user AFTER DELETE ON users BEGIN
    DELETE FROM grants WHERE member_type = 'USER' AND member_id = OLD.union_id;
END;
CREATE TRIGGER grants_leave_with_their_dept AFTER DELETE ON depts BEGIN
    DELETE FROM grants WHERE member_type = 'DEPT' AND member_id = OLD.dept_id;
END;
-- The sweeper's purge of expired grants.
CREATE INDEX grants_by_expiry ON grants (expires_at) WHERE expires_at IS NOT NULL;

-- A move task remembers whether the moved dentries keep their grants, and
-- whether it may remove OWNER grants (the operator's role decided it).
ALTER TABLE tasks ADD COLUMN keep_grants INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN protect_owner_grants INTEGER NOT NULL DEFAULT 0;

-- The ORG recycle bin lists every item of the org (every app's spaces).
CREATE INDEX recycle_items_by_org ON recycle_items (corp_id, deleted_at, recycle_item_id);
