-- Registered open links (RegisterOpenInfo): one URL per dentry, provider
-- and open type. `id` grows with each registration (a replaced link is
-- deleted and inserted again), so the highest id of a type is the most
-- recent. They leave with their dentry when it is removed for good; a
-- binned dentry keeps its row, and so its links.
CREATE TABLE open_links (
    id            INTEGER PRIMARY KEY,
    dentry_id     TEXT NOT NULL REFERENCES dentries (dentry_id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    open_type     TEXT NOT NULL CHECK (open_type IN ('PREVIEW', 'EDIT')),
    url           TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    UNIQUE (dentry_id, provider, open_type)
);
CREATE INDEX open_links_by_type ON open_links (dentry_id, open_type, id);
