//! The domain's error vocabulary. The HTTP layer maps each variant to a
//! DingTalk error code and status in exactly one place.

use orgdrive_store::StoreError;

use crate::Scope;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// Bad input; `field` names the offending parameter (`paramError.<field>`).
    #[error("{message}")]
    InvalidParam { field: Option<String>, message: String },
    /// The addressed resource does not exist (reported against the id's field).
    #[error("{message}")]
    NotFound { field: &'static str, message: String },
    /// Missing, unknown or expired access token, or bad app credentials.
    #[error("{0}")]
    InvalidAuthentication(String),
    /// The app behind the token was not granted the scope the operation needs.
    #[error("the access token lacks scope {required}")]
    ScopeDenied { required: Scope },
    /// The operator may not do this here.
    #[error("{0}")]
    PermissionDenied(String),
    /// Storing the bytes would pass the space quota or the org capacity.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A PUT carried more bytes than its upload allows.
    #[error("{0}")]
    TooLarge(String),
    /// A signed blob URL was tampered with, used with another method, or expired.
    #[error("{message}")]
    SignatureRefused { expired: bool, message: String },
    /// A unique value is already taken (admin plane).
    #[error("{message}")]
    Conflict { field: &'static str, message: String },
    /// The record is still in use and cannot be deleted (admin plane).
    #[error("{0}")]
    InUse(String),
    /// A blob URL path that names no object orgdrive serves (404).
    #[error("{0}")]
    ObjectNotFound(String),
    /// The space or app has as many open uploads as allowed.
    #[error("{0}")]
    TooManyUploads(String),
    /// A file has no thumbnail (yet): an item's `errorCode`.
    #[error("no thumbnail: {}", .0.code())]
    NoThumbnail(NoThumbnail),
    /// The app has as many unfinished tasks as allowed.
    #[error("{0}")]
    TooManyTasks(String),
    /// Free disk space is below the configured floor: uploads are refused.
    #[error("{0}")]
    DiskFull(String),
    /// GetWebOfficeUrl / RefreshWebOfficeToken, or GetDentryOpenInfo `EDIT`
    /// of a file with no registered edit link, on a server started without a
    /// WOPI client (`--wopi-client-url`): `webOfficeNotConfigured`, 400.
    #[error("{0}")]
    WebOfficeNotConfigured(String),
    /// Too much of this work is queued on this node already (password
    /// hashing): try again shortly (503 `serviceUnavailable`).
    #[error("{0}")]
    Busy(String),
    /// Something broke on our side.
    #[error("{0}")]
    Internal(String),
}

pub type DriveResult<T> = Result<T, DriveError>;

impl DriveError {
    pub fn param(field: &str, message: impl Into<String>) -> DriveError {
        DriveError::InvalidParam { field: Some(field.to_string()), message: message.into() }
    }

    pub fn not_found(field: &'static str, message: impl Into<String>) -> DriveError {
        DriveError::NotFound { field, message: message.into() }
    }
}

impl From<StoreError> for DriveError {
    fn from(e: StoreError) -> DriveError {
        match e {
            // Logged here: the answer (503) tells the client only to retry.
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "the metadata store is unavailable");
                DriveError::Busy(
                    "the metadata store is unavailable; try again shortly (a write may have \
                     been made before it was: look before writing again)"
                        .into(),
                )
            }
            // Logged here: the answer (503) tells the client to look first.
            StoreError::OutcomeUnknown(_) => {
                tracing::warn!(error = %e, "a write's outcome is unknown");
                DriveError::Busy(
                    "the metadata store's answer was lost: the write may have been made; look \
                     before writing again"
                        .into(),
                )
            }
            other => DriveError::Internal(other.to_string()),
        }
    }
}

impl From<orgdrive_blob::BlobError> for DriveError {
    fn from(e: orgdrive_blob::BlobError) -> DriveError {
        if e.is_unavailable() {
            // Logged here: the answer (503) tells the client only to retry.
            tracing::warn!(error = %e, "the content store is unavailable");
            return DriveError::Busy(
                "the content store is unavailable; try again shortly (a write may have been \
                 made before it failed: look before writing again)"
                    .into(),
            );
        }
        DriveError::Internal(e.to_string())
    }
}

/// The error for an id that names no live dentry of the space (`field` is
/// the id's wire field).
pub(crate) fn unknown_dentry(field: &'static str, id: &str) -> DriveError {
    DriveError::not_found(field, format!("dentry {id} does not exist"))
}

/// Why a file has no thumbnail (each answers as the item's `errorCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoThumbnail {
    /// A folder, or a file whose type gets no thumbnail.
    Unsupported,
    /// Being made; ask again shortly.
    NotReady,
    /// Its content could not be read as an image.
    Failed,
}

impl NoThumbnail {
    pub fn code(self) -> &'static str {
        match self {
            NoThumbnail::Unsupported => "thumbnailNotSupported",
            NoThumbnail::NotReady => "thumbnailNotReady",
            NoThumbnail::Failed => "thumbnailFailed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_store_is_busy_and_any_other_failure_internal() {
        let unavailable = StoreError::Unavailable("no database connection".into());
        assert!(matches!(DriveError::from(unavailable), DriveError::Busy(_)));
        let backend = StoreError::Backend("syntax error".into());
        assert!(matches!(DriveError::from(backend), DriveError::Internal(_)));
    }
}
