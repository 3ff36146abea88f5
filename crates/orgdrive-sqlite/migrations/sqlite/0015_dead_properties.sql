-- WebDAV dead properties (PROPPATCH): a file's or folder's properties by
-- XML namespace and name, the element kept as the client sent it. They
-- stay while the dentry is in the recycle bin and go with it.
CREATE TABLE dead_properties (
    dentry_id TEXT NOT NULL REFERENCES dentries (dentry_id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    prefix    TEXT NOT NULL,
    xml       BLOB NOT NULL,
    PRIMARY KEY (dentry_id, namespace, name)
) WITHOUT ROWID;
