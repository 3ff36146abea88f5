//! Errors inside the store: what a statement or a transaction body fails
//! with ([`DbError`]), and the one mapping to the contract's
//! [`StoreError`] — unique violations by constraint name to
//! `Duplicate(Key)`, foreign-key violations to `NotFound`.

use orgdrive_store::{Key, StoreError};
use tokio_postgres::error::SqlState;

/// A failure inside a transaction body: the database's (mapped at the end,
/// so that a serialization failure can still be retried) or the contract's.
#[derive(Debug)]
pub enum DbError {
    Pg(tokio_postgres::Error),
    Store(StoreError),
}

pub type DbResult<T> = Result<T, DbError>;

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::Pg(e)
    }
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        DbError::Store(e)
    }
}

impl DbError {
    /// A serialization failure or deadlock: the transaction may be run again.
    pub fn is_retryable(&self) -> bool {
        match self {
            DbError::Pg(e) => e.code().is_some_and(|code| crate::retryable_state(code.code())),
            DbError::Store(_) => false,
        }
    }

    /// Whether the server answered the request with an error: the
    /// transaction it ran in is aborted (a `COMMIT` after it rolls back).
    /// Not so when the connection failed or its answer could not be read:
    /// the server may have run it.
    pub fn is_refusal(&self) -> bool {
        matches!(self, DbError::Pg(e) if e.as_db_error().is_some())
    }

    /// For a `COMMIT` that failed: unless the server refused it (the
    /// transaction then rolled back), its answer was lost and the
    /// transaction may have committed ([`StoreError::OutcomeUnknown`]).
    pub fn at_commit(self) -> DbError {
        match self {
            DbError::Pg(e) if e.as_db_error().is_none() => {
                DbError::Store(StoreError::OutcomeUnknown(words(&e)))
            }
            other => other,
        }
    }

    /// A row lock taken `NOWAIT` that another transaction holds.
    pub fn is_lock_busy(&self) -> bool {
        matches!(self, DbError::Pg(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE))
    }

    /// The contract's meaning of the failure.
    pub fn into_store(self) -> StoreError {
        match self {
            DbError::Store(e) => e,
            DbError::Pg(e) => classify(&e),
        }
    }

    /// For a delete: a foreign key refusing it means the record is still
    /// referenced (`InUse`); other failures stay as they are.
    pub fn on_delete(self) -> DbError {
        match &self {
            DbError::Pg(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                DbError::Store(StoreError::InUse)
            }
            _ => self,
        }
    }
}

/// What `e` says, never a statement's parameters: the server's message
/// and SQLSTATE (not its DETAIL, which may quote a row's values), or the
/// driver's own words and their cause (a type mismatch names the types, a
/// bad connection string the option, never a value).
pub(crate) fn words(e: &tokio_postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => format!("{} ({})", db.message(), db.code().code()),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}

/// Maps a database error to the contract's error. The message of a
/// `Backend` error is [`words`].
pub(crate) fn classify(e: &tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        return StoreError::Backend(words(e));
    };
    if *db.code() == SqlState::UNIQUE_VIOLATION {
        if let Some(key) = db.constraint().and_then(unique_key) {
            return StoreError::Duplicate(key);
        }
    }
    if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
        return StoreError::NotFound;
    }
    StoreError::Backend(words(e))
}

/// The contract's name of the unique constraint `constraint`.
fn unique_key(constraint: &str) -> Option<Key> {
    Some(match constraint {
        "orgs_pkey" => Key::CorpId,
        "apps_pkey" | "apps_corp_app_key" => Key::AppId,
        "apps_app_key_key" => Key::AppKey,
        "users_pkey" | "users_corp_union_key" => Key::UnionId,
        "users_corp_user_key" => Key::UserId,
        "depts_pkey" | "depts_corp_dept_key" => Key::DeptId,
        "spaces_pkey" => Key::SpaceId,
        "dentries_pkey" | "dentries_uuid_key" => Key::DentryId,
        "uploads_pkey" => Key::UploadKey,
        "recycle_items_pkey" | "recycle_bins_pkey" => Key::RecycleId,
        "tasks_pkey" => Key::TaskId,
        _ => return None,
    })
}

/// A contract error from inside a transaction body (the transaction rolls
/// back).
pub(crate) fn refuse<T>(e: StoreError) -> DbResult<T> {
    Err(DbError::Store(e))
}

/// A `Backend` error in the store's own words: the database broke an
/// invariant the store keeps.
pub(crate) fn broken(message: &str) -> DbError {
    DbError::Store(StoreError::Backend(message.to_string()))
}
