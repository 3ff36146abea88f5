-- Upload hardening: every PUT writes a fresh object recorded by its key; bytes
-- of uploads not yet committed are reserved against the space quota and the
-- org capacity; open uploads are counted per space and per app.

-- The object a received part was written to. PUT URLs never name it (they
-- name the upload and part number), so no URL can reach recorded bytes.
ALTER TABLE upload_parts ADD COLUMN object_key TEXT NOT NULL DEFAULT '';
UPDATE upload_parts SET object_key = CASE part_number
    WHEN 0 THEN 'objects/' || upload_key
    ELSE 'parts/' || upload_key || '/' || part_number END;

-- Bytes an upload holds in its space's and org's reserved counters: its
-- recorded parts plus the PUTs in flight. Always equal, per space, to
-- spaces.reserved_bytes, and per org to orgs.reserved_bytes (changed in the
-- same transactions).
ALTER TABLE uploads ADD COLUMN reserved_bytes INTEGER NOT NULL DEFAULT 0
    CHECK (reserved_bytes >= 0);
ALTER TABLE spaces ADD COLUMN reserved_bytes INTEGER NOT NULL DEFAULT 0
    CHECK (reserved_bytes >= 0);
ALTER TABLE orgs ADD COLUMN reserved_bytes INTEGER NOT NULL DEFAULT 0
    CHECK (reserved_bytes >= 0);

UPDATE uploads SET reserved_bytes = COALESCE(
    (SELECT SUM(size) FROM upload_parts p WHERE p.upload_key = uploads.upload_key), 0);
UPDATE spaces SET reserved_bytes = COALESCE(
    (SELECT SUM(reserved_bytes) FROM uploads u WHERE u.space_id = spaces.space_id), 0);
UPDATE orgs SET reserved_bytes = COALESCE(
    (SELECT SUM(reserved_bytes) FROM spaces s WHERE s.corp_id = orgs.corp_id), 0);

-- The caps on open uploads count by these.
CREATE INDEX uploads_by_space ON uploads (space_id);
CREATE INDEX uploads_by_app ON uploads (app_id);
