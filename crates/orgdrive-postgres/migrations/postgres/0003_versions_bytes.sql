-- What each space's kept versions hold (the console shows it apart from
-- the files' current contents and the recycle bin). Kept by triggers, so
-- that every statement that adds, removes or moves a version keeps it,
-- whichever code path runs it: a version row is only ever inserted, or
-- removed with its dentry; a dentry changes space with its versions. The
-- triggers update the space's row, which the same transactions lock for
-- used_bytes already.
ALTER TABLE spaces ADD COLUMN versions_bytes BIGINT NOT NULL DEFAULT 0;

UPDATE spaces SET versions_bytes = kept.bytes
FROM (SELECT d.space_id, SUM(v.size) AS bytes FROM dentry_versions v
      JOIN dentries d ON d.dentry_id = v.dentry_id GROUP BY d.space_id) AS kept
WHERE kept.space_id = spaces.space_id;

CREATE FUNCTION versions_bytes_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE spaces SET versions_bytes = versions_bytes + NEW.size
    WHERE space_id = (SELECT space_id FROM dentries WHERE dentry_id = NEW.dentry_id);
    RETURN NULL;
END $$;
CREATE TRIGGER versions_bytes_on_insert AFTER INSERT ON dentry_versions
    FOR EACH ROW EXECUTE FUNCTION versions_bytes_on_insert();

CREATE FUNCTION versions_bytes_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE spaces SET versions_bytes = versions_bytes - OLD.size
    WHERE space_id = (SELECT space_id FROM dentries WHERE dentry_id = OLD.dentry_id);
    RETURN NULL;
END $$;
CREATE TRIGGER versions_bytes_on_delete AFTER DELETE ON dentry_versions
    FOR EACH ROW EXECUTE FUNCTION versions_bytes_on_delete();

-- A dentry's versions go just before it, while the trigger above can still
-- find its space (the foreign key's cascade then has nothing left to do).
CREATE FUNCTION versions_leave_before_their_dentry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dentry_versions WHERE dentry_id = OLD.dentry_id;
    RETURN OLD;
END $$;
CREATE TRIGGER versions_leave_before_their_dentry BEFORE DELETE ON dentries
    FOR EACH ROW EXECUTE FUNCTION versions_leave_before_their_dentry();

CREATE FUNCTION versions_bytes_follow_their_dentry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kept BIGINT;
BEGIN
    SELECT SUM(size) INTO kept FROM dentry_versions WHERE dentry_id = NEW.dentry_id;
    IF kept IS NOT NULL THEN
        UPDATE spaces SET versions_bytes = versions_bytes - kept WHERE space_id = OLD.space_id;
        UPDATE spaces SET versions_bytes = versions_bytes + kept WHERE space_id = NEW.space_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER versions_bytes_follow_their_dentry AFTER UPDATE OF space_id ON dentries
    FOR EACH ROW WHEN (OLD.space_id IS DISTINCT FROM NEW.space_id)
    EXECUTE FUNCTION versions_bytes_follow_their_dentry();
