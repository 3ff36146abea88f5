//! The web console's people and sessions: console passwords (Argon2id, set
//! by an admin), sign-in of a person (unionId and password) or of an
//! operator (the admin token, which the HTTP layer checks), sessions behind
//! a cookie (only its SHA-256 is stored), each session's CSRF token, and the
//! console app through which an org's people act. A person's console action
//! is an ordinary operation of an [`Operator`] (the console app, the person)
//! under the one policy: the console has no path of its own around it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use orgdrive_store::{
    AppRecord, ConsoleSessionRecord, PersonSpaces, SharedDentry, StoreError, TaskOp, TaskRecord,
    UsageParts,
};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::dentries::{DentryView, PropertyFilter};
use crate::identity::{secret_hash, CONSOLE_APP_KEY_PREFIX};
use crate::ids::{random_hex, random_secret};
use crate::policy::{Operation, Place};
use crate::spaces::{space_view, SpaceView};
use crate::{now_ms, Drive, DriveError, DriveResult, Operator, Scope};

/// How long a console session lives from its sign-in.
pub const CONSOLE_SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
/// The shortest console password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest console password, in bytes (Argon2 takes any length; a cap
/// keeps a sign-in request cheap to refuse).
pub const MAX_PASSWORD_BYTES: usize = 256;
/// The most spaces the console lists for a person.
pub const MAX_PERSON_SPACES: u32 = 500;
/// The name of each org's console app.
pub const CONSOLE_APP_NAME: &str = "orgdrive console";

/// Argon2id hashes computed at once on this node: each takes 19 MiB and
/// tens of milliseconds, so a burst of sign-ins queues instead of taking
/// the memory and every core.
static HASHING: Semaphore = Semaphore::const_new(2);
/// Hashes that may wait for [`HASHING`]; more are refused at once (503), so
/// that a flood of sign-ins cannot delay everyone's for long.
const MAX_HASHES_WAITING: usize = 16;
static HASHES_WAITING: AtomicUsize = AtomicUsize::new(0);

/// Who a console session signed in.
#[derive(Debug, Clone)]
pub enum ConsoleCaller {
    /// A person of an org, acting through the org's console app.
    Person(Box<Operator>),
    /// An operator of the server (signed in with the admin token).
    ServerOperator,
}

/// A new console session: the cookie's value, shown to the browser once.
#[derive(Debug, Clone)]
pub struct ConsoleSignIn {
    pub cookie: String,
    pub expires_at: i64,
}

fn session_hash(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

fn refused() -> DriveError {
    DriveError::InvalidAuthentication("unknown user or wrong password".into())
}

/// The PHC string of a password nobody knows: a sign-in for a user
/// without a password verifies against it, so that the time taken does
/// not tell which users have one. Made once, under the hashing limit.
async fn decoy_phc() -> DriveResult<&'static str> {
    static DECOY: OnceLock<String> = OnceLock::new();
    if let Some(phc) = DECOY.get() {
        return Ok(phc);
    }
    let phc = hashing(|| hash_password(&random_secret())).await??;
    Ok(DECOY.get_or_init(|| phc))
}

fn hash_password(password: &str) -> DriveResult<String> {
    let salt_bytes = hex::decode(random_hex(16)).expect("hex decodes");
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| DriveError::Internal(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| DriveError::Internal(format!("password hash: {e}")))
}

fn password_matches(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// Runs `work` (hashing) on a blocking thread, at most [`HASHING`] at once
/// and [`MAX_HASHES_WAITING`] waiting (`Busy` beyond).
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> DriveResult<T> {
    struct Waiting;
    impl Drop for Waiting {
        fn drop(&mut self) {
            HASHES_WAITING.fetch_sub(1, Ordering::Relaxed);
        }
    }
    if HASHES_WAITING.fetch_add(1, Ordering::Relaxed) >= MAX_HASHES_WAITING {
        HASHES_WAITING.fetch_sub(1, Ordering::Relaxed);
        return Err(DriveError::Busy("too many sign-ins at once; try again shortly".into()));
    }
    let waiting = Waiting;
    let _permit = HASHING.acquire().await.map_err(|e| DriveError::Internal(e.to_string()))?;
    drop(waiting);
    tokio::task::spawn_blocking(work).await.map_err(|e| DriveError::Internal(e.to_string()))
}

/// A password an admin may set: [`MIN_PASSWORD_CHARS`] characters or more,
/// at most [`MAX_PASSWORD_BYTES`] bytes, no control characters.
pub(crate) fn valid_password(password: &str) -> DriveResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS
        || password.len() > MAX_PASSWORD_BYTES
        || password.chars().any(char::is_control)
    {
        return Err(DriveError::param(
            "password",
            format!(
                "password must be {MIN_PASSWORD_CHARS} characters or more, at most \
                 {MAX_PASSWORD_BYTES} bytes, without control characters"
            ),
        ));
    }
    Ok(())
}

impl Drive {
    /// Sets (or, with `None`, removes) a user's console password. Every
    /// console session of the user ends with it.
    pub async fn set_console_password(
        &self,
        corp_id: &str,
        union_id: &str,
        password: Option<&str>,
    ) -> DriveResult<()> {
        let phc = match password {
            Some(password) => {
                valid_password(password)?;
                let password = password.to_string();
                Some(hashing(move || hash_password(&password)).await??)
            }
            None => None,
        };
        if !self.meta.set_password(corp_id, union_id, phc.as_deref(), now_ms()).await? {
            return Err(DriveError::not_found(
                "unionId",
                format!("{union_id} is not a user of organization {corp_id}"),
            ));
        }
        Ok(())
    }

    /// Signs a person in with their unionId and console password. Any
    /// mismatch (unknown user, no password, wrong password) is the same
    /// `InvalidAuthentication`, after the same work.
    pub async fn sign_in_person(
        &self,
        union_id: &str,
        password: &str,
    ) -> DriveResult<ConsoleSignIn> {
        let (user, _) = self.check_console_password(union_id, password).await?;
        self.open_console_session(random_secret(), Some(user.union_id)).await
    }

    /// The person whose unionId and console password these are, acting
    /// through their org's console app (WebDAV's Basic authentication):
    /// refused as [`Drive::sign_in_person`] refuses, and no session is opened.
    /// Answers the password's stored hash too, for [`Drive::person_still_verified`].
    pub async fn person_operator(
        &self,
        union_id: &str,
        password: &str,
    ) -> DriveResult<(Operator, String)> {
        let (user, phc) = self.check_console_password(union_id, password).await?;
        let app = self.console_app(&user.corp_id).await?;
        Ok((Operator { app, user }, phc))
    }

    /// The person again, without hashing, for a caller that verified their
    /// password earlier against the stored hash `phc`: only while that hash
    /// is still the user's (a changed or removed password, or a deleted
    /// user, ends it at once).
    pub async fn person_still_verified(
        &self,
        union_id: &str,
        phc: &str,
    ) -> DriveResult<Option<Operator>> {
        match self.meta.password(union_id).await? {
            Some((user, current)) if current.as_bytes() == phc.as_bytes() => {
                let app = self.console_app(&user.corp_id).await?;
                Ok(Some(Operator { app, user }))
            }
            _ => Ok(None),
        }
    }

    pub(crate) async fn check_console_password(
        &self,
        union_id: &str,
        password: &str,
    ) -> DriveResult<(orgdrive_store::UserRecord, String)> {
        if union_id.is_empty() || union_id.len() > 128 || password.len() > MAX_PASSWORD_BYTES {
            return Err(refused());
        }
        let found = self.meta.password(union_id).await?;
        let phc = match &found {
            Some((_, phc)) => phc.clone(),
            None => decoy_phc().await?.to_string(),
        };
        let password = password.to_string();
        let matches = hashing(move || password_matches(&phc, &password)).await?;
        match found {
            Some((user, phc)) if matches => Ok((user, phc)),
            _ => Err(refused()),
        }
    }

    /// Opens an operator's session (the HTTP layer has checked the admin
    /// token). The cookie is bound to `admin_token_digest`: once the admin
    /// token changes, the session is refused ([`Drive::console_caller`]).
    pub async fn sign_in_server_operator(
        &self,
        admin_token_digest: &[u8],
    ) -> DriveResult<ConsoleSignIn> {
        let nonce = random_secret();
        let cookie = format!("{nonce}.{}", self.operator_tag(&nonce, admin_token_digest));
        self.open_console_session(cookie, None).await
    }

    /// An operator cookie's tag: an HMAC, under the signing key, of its
    /// nonce and the admin token's digest.
    fn operator_tag(&self, nonce: &str, admin_token_digest: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.options.signing_key)
            .expect("HMAC takes keys of any length");
        mac.update(b"orgdrive console operator\n");
        mac.update(admin_token_digest);
        mac.update(nonce.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    async fn open_console_session(
        &self,
        cookie: String,
        union_id: Option<String>,
    ) -> DriveResult<ConsoleSignIn> {
        let now = now_ms();
        let session = ConsoleSessionRecord {
            session_hash: session_hash(&cookie),
            union_id,
            created_at: now,
            expires_at: now + CONSOLE_SESSION_TTL_MS,
        };
        match self.meta.insert_console_session(&session).await {
            Ok(()) => Ok(ConsoleSignIn { cookie, expires_at: session.expires_at }),
            // The user was deleted meanwhile.
            Err(StoreError::NotFound) => Err(refused()),
            Err(e) => Err(e.into()),
        }
    }

    /// Who the session behind `cookie` signed in, while it lives; an
    /// operator's only while the admin token is the one it signed in with
    /// (`admin_token_digest`).
    pub async fn console_caller(
        &self,
        cookie: &str,
        admin_token_digest: &[u8],
    ) -> DriveResult<ConsoleCaller> {
        let ended =
            || DriveError::InvalidAuthentication("not signed in, or the session ended".into());
        if cookie.is_empty() || cookie.len() > 128 {
            return Err(ended());
        }
        let live =
            self.meta.console_session(&session_hash(cookie), now_ms()).await?.ok_or_else(ended)?;
        match (live.session.union_id, live.user) {
            (None, _) => {
                let bound = cookie.split_once('.').is_some_and(|(nonce, tag)| {
                    tag.as_bytes() == self.operator_tag(nonce, admin_token_digest).as_bytes()
                });
                if bound {
                    Ok(ConsoleCaller::ServerOperator)
                } else {
                    Err(ended())
                }
            }
            (Some(_), Some(user)) => {
                let app = self.console_app(&user.corp_id).await?;
                Ok(ConsoleCaller::Person(Box::new(Operator { app, user })))
            }
            (Some(_), None) => Err(ended()),
        }
    }

    /// Ends the session behind `cookie` (sign-out); ending it twice is no error.
    pub async fn sign_out(&self, cookie: &str) -> DriveResult<()> {
        if !cookie.is_empty() && cookie.len() <= 128 {
            self.meta.delete_console_session(&session_hash(cookie)).await?;
        }
        Ok(())
    }

    /// The CSRF token of the session behind `cookie`: an HMAC of the cookie
    /// under the signing key, so it is stored nowhere, differs per session
    /// and cannot be made without the cookie, which scripts cannot read.
    pub fn console_csrf_token(&self, cookie: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.options.signing_key)
            .expect("HMAC takes keys of any length");
        mac.update(b"orgdrive console csrf\n");
        mac.update(cookie.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The org's console app, made on first use: it holds every scope, its
    /// secret is thrown away (no token is ever issued for it), and its key
    /// `console:<corpId>` is one no admin can choose (keys are `A-Z a-z 0-9
    /// _ -`), so no other app can pose as it.
    pub async fn console_app(&self, corp_id: &str) -> DriveResult<AppRecord> {
        let app_key = format!("{CONSOLE_APP_KEY_PREFIX}{corp_id}");
        let own = |app: AppRecord| {
            if app.corp_id == corp_id {
                Ok(app)
            } else {
                Err(DriveError::Internal(format!("app {app_key} belongs to another org")))
            }
        };
        if let Some(app) = self.meta.get_app_by_key(&app_key).await? {
            return own(app);
        }
        let salt = random_hex(16);
        let now = now_ms();
        let app = AppRecord {
            app_id: self.ids.next(),
            corp_id: corp_id.to_string(),
            name: CONSOLE_APP_NAME.to_string(),
            app_key: app_key.clone(),
            secret_hash: secret_hash(&salt, &random_secret()),
            secret_salt: salt,
            scopes: Scope::ALL.iter().map(|s| s.as_str().to_string()).collect(),
            created_at: now,
            modified_at: now,
        };
        match self.meta.insert_app(&app).await {
            Ok(()) => Ok(app),
            // Made by a racing request or node meanwhile.
            Err(StoreError::Duplicate(_)) => match self.meta.get_app_by_key(&app_key).await? {
                Some(app) => own(app),
                None => Err(DriveError::Internal(format!("app {app_key} vanished"))),
            },
            Err(StoreError::NotFound) => Err(DriveError::not_found(
                "corpId",
                format!("organization {corp_id} does not exist"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The spaces a person can open (owned, or holding a live grant in;
    /// every space of the org for an org admin), newest first, with their
    /// quota views.
    pub async fn person_spaces(&self, op: &Operator) -> DriveResult<Vec<SpaceView>> {
        let depts = self.user_depts(op).await?;
        let query = PersonSpaces {
            corp_id: op.corp_id().to_string(),
            union_id: op.user.union_id.clone(),
            dept_ids: Arc::unwrap_or_clone(depts),
            whole_org: op.user.org_admin,
            now_ms: now_ms(),
            limit: MAX_PERSON_SPACES,
        };
        let spaces = self.meta.person_spaces(&query).await?;
        let org = self.org(op.corp_id()).await?;
        Ok(spaces.into_iter().map(|space| space_view(space, &org)).collect())
    }

    /// The files and folders below a space's root that a person holds a
    /// live grant on (not those in spaces of other orgs), by name, at most
    /// [`MAX_PERSON_SPACES`]: reachable although the space is not.
    pub async fn shared_with_person(&self, op: &Operator) -> DriveResult<Vec<SharedDentry>> {
        let depts = self.user_depts(op).await?;
        let query = PersonSpaces {
            corp_id: op.corp_id().to_string(),
            union_id: op.user.union_id.clone(),
            dept_ids: Arc::unwrap_or_clone(depts),
            whole_org: false,
            now_ms: now_ms(),
            limit: MAX_PERSON_SPACES,
        };
        Ok(self.meta.person_shared_dentries(&query).await?)
    }

    /// What the used bytes of spaces already read (views come only from
    /// checked reads) are made of: kept versions and the recycle bin, per
    /// space id. A pass over those spaces' versions and bin items.
    pub async fn usage_parts(
        &self,
        spaces: &[SpaceView],
    ) -> DriveResult<std::collections::HashMap<String, UsageParts>> {
        if spaces.is_empty() {
            return Ok(Default::default());
        }
        let ids: Vec<String> = spaces.iter().map(|v| v.space.space_id.clone()).collect();
        let parts = self.meta.usage_parts(&ids).await?;
        Ok(parts.into_iter().map(|p| (p.space_id.clone(), p)).collect())
    }
}

/// What an operator sees of an org's storage: what it holds against its
/// capacity, and its spaces (newest first, at most [`MAX_PERSON_SPACES`]).
#[derive(Debug, Clone)]
pub struct OrgUsage {
    pub used_bytes: i64,
    pub capacity: Option<i64>,
    pub spaces: Vec<SpaceView>,
}

impl Drive {
    /// An org's storage for the operators' pages (no operator of the org:
    /// the caller is the server's operator).
    pub async fn org_usage(&self, corp_id: &str) -> DriveResult<OrgUsage> {
        let org = self.org(corp_id).await?;
        let used_bytes = self.meta.org_used_bytes(corp_id).await?;
        let query = PersonSpaces {
            corp_id: corp_id.to_string(),
            union_id: String::new(),
            dept_ids: Vec::new(),
            whole_org: true,
            now_ms: now_ms(),
            limit: MAX_PERSON_SPACES,
        };
        let spaces = self.meta.person_spaces(&query).await?;
        let spaces = spaces.into_iter().map(|space| space_view(space, &org)).collect();
        Ok(OrgUsage { used_bytes, capacity: org.capacity, spaces })
    }
}

/// The most results a search of names answers.
pub const MAX_SEARCH_RESULTS: u32 = 100;
/// The longest text searched for, in characters.
pub const MAX_SEARCH_CHARS: usize = 100;

impl Drive {
    /// The live files and folders of the space whose name contains `text`
    /// (exactly, case included), by name, at most [`MAX_SEARCH_RESULTS`]:
    /// what the person could list of the whole space (ListAllDentries' rule).
    pub async fn search_names(
        &self,
        op: &Operator,
        space_id: &str,
        text: &str,
    ) -> DriveResult<Vec<DentryView>> {
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_SEARCH_CHARS || text.chars().any(char::is_control) {
            return Err(DriveError::param(
                "q",
                format!(
                    "search for 1 to {MAX_SEARCH_CHARS} characters, without control characters"
                ),
            ));
        }
        let space = self.space_for(op, space_id).await?;
        self.authorize(op, &space, Place::Root, Operation::ListAllDentries).await?;
        let found = self.meta.search_names(&space.space_id, text, MAX_SEARCH_RESULTS).await?;
        self.views(op, found, &PropertyFilter::default()).await
    }
}

/// The most unfinished tasks the operators' page lists.
pub const MAX_LISTED_TASKS: usize = 200;

impl Drive {
    /// The server's unfinished background tasks (moves, copies, deletes,
    /// restores), oldest first, at most [`MAX_LISTED_TASKS`]: for operators.
    pub async fn unfinished_tasks(&self) -> DriveResult<Vec<TaskRecord>> {
        let mut tasks = self.meta.unfinished_tasks(None).await?;
        tasks.truncate(MAX_LISTED_TASKS);
        Ok(tasks)
    }
}

/// A task's kind, as the operators' page names it.
pub fn task_kind(task: &TaskRecord) -> &'static str {
    match task.op {
        TaskOp::Move { .. } => "MOVE",
        TaskOp::Copy { .. } => "COPY",
        TaskOp::Delete { .. } => "DELETE",
        TaskOp::Restore { .. } => "RESTORE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(password_matches(&phc, "correct horse battery"));
        assert!(!password_matches(&phc, "correct horse batterz"));
        assert!(!password_matches("not a phc string", "correct horse battery"));
        assert_ne!(phc, hash_password("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn passwords_are_checked_before_they_are_hashed() {
        assert!(valid_password("0123456789").is_ok());
        assert!(valid_password("012345678").is_err(), "too short");
        assert!(valid_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err(), "too long");
        assert!(valid_password("0123456789\n").is_err(), "control character");
        assert!(valid_password("密码密码密码密码密码").is_ok(), "characters, not bytes");
    }
}
