-- WebDAV dead properties (PROPPATCH): a file's or folder's properties by
-- XML namespace and name, the element kept as the client sent it. They
-- stay while the dentry is in the recycle bin and go with it. Names
-- compare bytewise, as everywhere in this schema.
CREATE TABLE dead_properties (
    dentry_id TEXT NOT NULL COLLATE "C"
        CONSTRAINT dead_properties_dentry_fkey REFERENCES dentries (dentry_id) ON DELETE CASCADE,
    namespace TEXT NOT NULL COLLATE "C",
    name      TEXT NOT NULL COLLATE "C",
    prefix    TEXT NOT NULL,
    xml       BYTEA NOT NULL,
    CONSTRAINT dead_properties_pkey PRIMARY KEY (dentry_id, namespace, name)
);
