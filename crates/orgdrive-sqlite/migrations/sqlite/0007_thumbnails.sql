-- Thumbnails: one per content object (files and versions sharing content
-- share it), or the record that none can be made. A thumbnail leaves with
-- its content object: the transaction that trashes the content object
-- deletes the row and trashes the thumbnail's object.
CREATE TABLE thumbnails (
    blob_key   TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('READY', 'FAILED')),
    object_key TEXT UNIQUE,
    width      INTEGER NOT NULL CHECK (width >= 0),
    height     INTEGER NOT NULL CHECK (height >= 0),
    size       INTEGER NOT NULL CHECK (size >= 0),
    created_at INTEGER NOT NULL,
    CHECK ((status = 'READY') = (object_key IS NOT NULL))
) WITHOUT ROWID;
