//! What can go wrong in a client command, and the exit code each kind of
//! failure gives scripts (README "Command-line client" lists them).

use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service answered with a DingTalk error body.
    #[error("{code}: {message} (HTTP {status}, requestid {requestid})")]
    Api { status: u16, code: String, message: String, requestid: String },
    /// No answer, or an answer that is not the API's (after the retries).
    #[error("{0}")]
    Network(String),
    /// A remote path that names nothing.
    #[error("not found: {0}")]
    NotFound(String),
    /// The command line or the profile is wrong.
    #[error("{0}")]
    Usage(String),
    /// Some items of a recursive command failed (each was reported).
    #[error("{0}")]
    Partial(String),
    /// An answer that contradicts what the service said before (a download
    /// longer than its file): not retried.
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

impl ClientError {
    pub fn usage(message: impl Into<String>) -> ClientError {
        ClientError::Usage(message.into())
    }

    /// The DingTalk error code, when the service gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Worth trying again after a pause: no answer, a 5xx, throttling, or
    /// DingTalk's `operationTimeout`.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Network(_) => true,
            ClientError::Api { status, code, .. } => {
                *status >= 500
                    || *status == 429
                    || code == "operationTimeout"
                    || code.contains("Throttling")
            }
            _ => false,
        }
    }

    /// 0 success, 1 refused by the service or a local error, 2 usage,
    /// 3 not found, 4 authentication or permission, 5 network or service
    /// unavailable after retries, 6 some items failed, 130 interrupted.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            ClientError::Usage(_) => 2,
            ClientError::NotFound(_) => 3,
            ClientError::Api { status: 401 | 403, .. } => 4,
            ClientError::Api { code, .. }
                if ["Authentication", "AccessDenied", "Forbidden", "permissionDenied"]
                    .iter()
                    .any(|word| code.contains(word)) =>
            {
                4
            }
            ClientError::Api { status: 404, .. } => 3,
            ClientError::Api { code, .. }
                if code.ends_with("notFound") || code.contains("NotFound") =>
            {
                3
            }
            e if e.is_transient() => 5,
            ClientError::Partial(_) => 6,
            ClientError::Interrupted => 130,
            _ => 1,
        })
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> ClientError {
        // Without the URL: signed URLs carry their signature in the query.
        ClientError::Network(format!("network error: {}", e.without_url()))
    }
}

impl From<serde_json::Error> for ClientError {
    fn from(e: serde_json::Error) -> ClientError {
        ClientError::Network(format!("an answer that is not the API's JSON: {e}"))
    }
}
