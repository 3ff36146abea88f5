//! Access tokens, scopes and the acting operator.
//!
//! A request is made by an app (its access token) on behalf of a user (the
//! `unionId` query parameter). [`Drive::operator`] resolves both in one store
//! lookup, checks the operation's scope and the user's membership, and yields
//! the [`Operator`]; [`Drive::visible_space`] hides other orgs' spaces. What
//! an operator may do in a space is decided by the policy (`policy`).

use hmac::{Hmac, Mac};
use orgdrive_store::{AppRecord, SpaceRecord, StoreError, TokenRecord, UserRecord};
use sha2::{Digest, Sha256};

use crate::identity::secret_hash;
use crate::ids::random_token;
use crate::{now_ms, Drive, DriveError, DriveResult, Scope};

/// Lifetime of an access token, in seconds (DingTalk: 7200).
pub const ACCESS_TOKEN_TTL_SECS: i64 = 7200;

/// Longest an access token lives from its first issue, however often it is
/// fetched again (each fetch extends it by [`ACCESS_TOKEN_TTL_SECS`] up to this).
pub const ACCESS_TOKEN_MAX_LIFE_SECS: i64 = 24 * 3600;

/// An issued access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub access_token: String,
    pub expire_in: i64,
}

/// An app acting for one of its org's users.
#[derive(Debug, Clone)]
pub struct Operator {
    pub app: AppRecord,
    pub user: UserRecord,
}

impl Operator {
    pub fn corp_id(&self) -> &str {
        &self.app.corp_id
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What the store keeps of an access token (its SHA-256, hex): a journal
/// names a request's token by it.
pub fn access_token_digest(token: &str) -> String {
    token_hash(token)
}

impl Drive {
    /// GetAccessToken: exchanges app credentials for the app's token, valid
    /// for [`ACCESS_TOKEN_TTL_SECS`] from now. While the app's token is live,
    /// fetching again returns the same token and extends its life (so
    /// clients that fetch a token per request keep working, on every node),
    /// up to [`ACCESS_TOKEN_MAX_LIFE_SECS`] after it was first issued: a
    /// leaked token dies however often its app fetches. `expire_in` is the
    /// life the token really has left. A new token only after expiry.
    pub async fn issue_token(&self, app_key: &str, app_secret: &str) -> DriveResult<AccessToken> {
        let app = self.authenticate_app(app_key, app_secret).await?;
        let checked_secret = app.secret_hash;
        let now = now_ms();
        let nonce = random_token();
        let fresh = TokenRecord {
            token_hash: token_hash(&self.derive_token(&nonce)),
            app_id: app.app_id,
            nonce,
            issued_at: now,
            expires_at: now + ACCESS_TOKEN_TTL_SECS * 1000,
        };
        let max_life = ACCESS_TOKEN_MAX_LIFE_SECS * 1000;
        // The secret checked above may be replaced, or the app deleted,
        // before the token is written: the store writes none then.
        let refused = |e: StoreError| match e {
            StoreError::NotFound => {
                DriveError::InvalidAuthentication("appKey or appSecret is invalid".into())
            }
            e => e.into(),
        };
        let mut issued = self
            .meta
            .issue_token(&fresh, &checked_secret, now, max_life, None)
            .await
            .map_err(refused)?;
        let mut access_token = self.derive_token(&issued.nonce);
        if token_hash(&access_token) != issued.token_hash {
            // Issued under another secret: it cannot be given out again.
            let stale = issued.token_hash.clone();
            issued = self
                .meta
                .issue_token(&fresh, &checked_secret, now, max_life, Some(&stale))
                .await
                .map_err(refused)?;
            access_token = self.derive_token(&issued.nonce);
            if token_hash(&access_token) != issued.token_hash {
                return Err(DriveError::Internal(
                    "the app's token was issued under another signing key (nodes must share it)"
                        .into(),
                ));
            }
        }
        let expire_in = ((issued.expires_at - now) / 1000).clamp(0, ACCESS_TOKEN_TTL_SECS);
        Ok(AccessToken { access_token, expire_in })
    }

    /// The app whose key and secret these are.
    pub(crate) async fn authenticate_app(
        &self,
        app_key: &str,
        app_secret: &str,
    ) -> DriveResult<AppRecord> {
        let invalid = || DriveError::InvalidAuthentication("appKey or appSecret is invalid".into());
        let app = self.meta.get_app_by_key(app_key).await?.ok_or_else(invalid)?;
        if secret_hash(&app.secret_salt, app_secret) != app.secret_hash {
            return Err(invalid());
        }
        Ok(app)
    }

    /// The access token a stored nonce stands for: an HMAC under the
    /// server's signing key, so the store alone cannot produce it.
    fn derive_token(&self, nonce: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.options.signing_key)
            .expect("HMAC takes keys of any length");
        mac.update(b"orgdrive access token\n");
        mac.update(nonce.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The app a live access token was issued to (no scope or user
    /// checked): for matching a request to the faults armed for an app.
    pub async fn token_app(&self, token: &str) -> DriveResult<Option<AppRecord>> {
        self.token_digest_app(&access_token_digest(token)).await
    }

    /// The app of the live access token whose digest
    /// ([`access_token_digest`]) this is.
    pub async fn token_digest_app(&self, digest: &str) -> DriveResult<Option<AppRecord>> {
        let found = self.meta.find_caller(digest, "", now_ms()).await?;
        Ok(found.map(|caller| caller.app))
    }

    /// Resolves the caller of a storage operation in one store lookup, and
    /// refuses in this order: a missing, unknown or expired token
    /// (`InvalidAuthentication`); an app without `scope`; a missing `unionId`;
    /// a `unionId` that is not a user of the token's org.
    pub async fn operator(
        &self,
        token: Option<&str>,
        scope: Option<Scope>,
        union_id: Option<&str>,
    ) -> DriveResult<Operator> {
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
            DriveError::InvalidAuthentication("missing x-acs-dingtalk-access-token".into())
        })?;
        let union_id = union_id.unwrap_or_default();
        let now = now_ms();
        let key = (token_hash(token), union_id.to_string());
        let caller = match self.cache.callers.get(&key).filter(|c| c.token_expires_at > now) {
            Some(cached) => cached,
            None => {
                let version = self.cache.identities_version();
                let found =
                    self.meta.find_caller(&key.0, union_id, now).await?.ok_or_else(|| {
                        DriveError::InvalidAuthentication(
                            "the access token is invalid or expired".into(),
                        )
                    })?;
                // Only complete callers are kept: a user added a moment later must work.
                if found.user.is_some() {
                    self.cache.remember_caller(key, found.clone(), version);
                }
                found
            }
        };
        let (app, user) = (caller.app, caller.user);
        if let Some(required) = scope {
            if !app.scopes.iter().any(|s| s == required.as_str()) {
                return Err(DriveError::ScopeDenied { required });
            }
        }
        if union_id.is_empty() {
            return Err(DriveError::param("unionId", "unionId is required"));
        }
        let user = user.ok_or_else(|| {
            DriveError::PermissionDenied(format!(
                "{union_id} is not a user of organization {}",
                app.corp_id
            ))
        })?;
        Ok(Operator { app, user })
    }

    /// Is `space` visible to `op` at all? Spaces of other orgs do not exist
    /// for the operator (not found, whether or not the id is taken). What the
    /// operator may do in a visible space is the policy's question
    /// ([`Drive::authorize`]).
    pub(crate) fn visible_space(&self, op: &Operator, space: &SpaceRecord) -> DriveResult<()> {
        if space.corp_id != op.app.corp_id {
            return Err(unknown_space(&space.space_id));
        }
        Ok(())
    }
}

pub(crate) fn unknown_space(space_id: &str) -> DriveError {
    DriveError::not_found("spaceId", format!("space {space_id} does not exist"))
}
