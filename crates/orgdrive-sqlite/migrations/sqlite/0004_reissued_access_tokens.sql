-- GetAccessToken returns the app's live token again (extending its life)
-- instead of a new one: the token is derived from a stored nonce with the
-- server's secret, and an app holds at most one such token. Rows from before
-- (no nonce) stay valid until they expire.
ALTER TABLE access_tokens ADD COLUMN nonce TEXT;
-- When the token was first issued: its life is extended up to a cap from here.
ALTER TABLE access_tokens ADD COLUMN issued_at INTEGER;
CREATE UNIQUE INDEX access_tokens_issued_per_app ON access_tokens (app_id) WHERE nonce IS NOT NULL;
