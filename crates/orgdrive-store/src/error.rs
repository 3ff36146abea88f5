//! What a store method can fail with, the same for every backend.

use crate::DentryRecord;

/// A unique key a write can collide with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// `orgs.corp_id`.
    CorpId,
    /// `apps.app_id`.
    AppId,
    /// `apps.app_key` (unique across orgs).
    AppKey,
    /// `users.union_id`.
    UnionId,
    /// `users.user_id`, unique per org.
    UserId,
    /// `depts.dept_id`.
    DeptId,
    /// `spaces.space_id`.
    SpaceId,
    /// `dentries.dentry_id` or `dentries.uuid`.
    DentryId,
    /// `uploads.upload_key`.
    UploadKey,
    /// `recycle_items.recycle_item_id` or `recycle_bins.recycle_bin_id`.
    RecycleId,
    /// `tasks.task_id`.
    TaskId,
}

/// Why a store method failed. Every failure leaves the store as it was.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique key would be violated.
    #[error("duplicate {0:?}")]
    Duplicate(Key),
    /// A record the write refers to does not exist (e.g. a user for an unknown org).
    #[error("referenced record does not exist")]
    NotFound,
    /// The record is still referenced and cannot be deleted (e.g. an org that owns spaces).
    #[error("record is still referenced")]
    InUse,
    /// A live sibling has the name (conflict strategy `Fail`, or a folder in the way).
    #[error("name is taken by {0:?}")]
    NameTaken(Box<DentryRecord>),
    /// The parent is not a live folder of the space.
    #[error("parent folder does not exist")]
    ParentNotFound,
    /// The upload was already committed, discarded or swept.
    #[error("upload does not exist")]
    UploadNotFound,
    /// Charging the bytes would exceed the space quota (`space`) or the org capacity.
    #[error("quota exceeded")]
    QuotaExceeded { space: bool },
    /// The upload's parts would together exceed its announced size.
    #[error("the parts would exceed the announced size")]
    UploadTooLarge,
    /// A commit's parts are no longer the upload's recorded parts (a PUT
    /// replaced one meanwhile).
    #[error("the upload changed while it was being committed")]
    UploadChanged,
    /// The space (`per_space`) or the app has as many open uploads as allowed.
    #[error("too many open uploads")]
    TooManyUploads { per_space: bool },
    /// A target space outside the actor's org, or unknown.
    #[error("target space does not exist")]
    SpaceNotFound,
    /// A folder would be moved or copied into itself or one of its descendants.
    #[error("a folder cannot go into itself")]
    IntoItself,
    /// A dentry would be more names deep than the limit.
    #[error("too deep")]
    TooDeep,
    /// A path would be longer than the limit.
    #[error("path too long")]
    PathTooLong,
    /// The file keeps no such history version.
    #[error("version does not exist")]
    VersionNotFound,
    /// The app has as many unfinished tasks as allowed.
    #[error("too many unfinished tasks")]
    TooManyTasks,
    /// A move or a grant write would remove or replace an `OWNER` grant it
    /// was told to protect.
    #[error("an OWNER grant would be removed")]
    OwnerGrantInTheWay,
    /// An app would hold more properties on a dentry than allowed.
    #[error("too many app properties")]
    TooManyProperties,
    /// The backend could not be reached in time (no connection within its
    /// wait, or connecting failed): nothing was done; worth trying again.
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    /// The write's `COMMIT` went out and its answer was lost (the connection
    /// failed), or it failed once it had begun writing (an I/O error on the
    /// log): the write may or may not have been applied. Never tried again
    /// by the store.
    #[error("metadata store: a transaction's outcome is unknown: {0}")]
    OutcomeUnknown(String),
    /// Anything else from the backend (its own words; never shown to API
    /// callers): the write, if any, was not applied.
    #[error("metadata store: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether the write that failed so certainly changed nothing: all but
    /// [`StoreError::OutcomeUnknown`]. Every contract error is decided
    /// inside the write's transaction, which then rolls back; `Unavailable`
    /// comes before anything is sent; `Backend` before the commit or from
    /// a server refusing it. Of a write whose outcome is unknown, what it
    /// refers to (a new content object, a reservation) must be kept.
    pub fn wrote_nothing(&self) -> bool {
        !matches!(self, StoreError::OutcomeUnknown(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
