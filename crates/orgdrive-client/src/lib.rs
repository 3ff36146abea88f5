//! odc, the command-line client of the DingTalk Storage Open API v1.0. It
//! speaks only the public API (and GetAccessToken), so the same commands
//! work against orgdrive and against DingTalk's own service.
//!
//! - [`cli`]: the command line (clap) and what each command does;
//! - [`mirror`]: tree transfers (`mirror`, `put -r`, `get -r`);
//! - [`transfer`]: one file's bytes: uploads with resume, downloads, progress;
//! - [`remote`]: remote paths (`SPACE:/path`) and their resolution;
//! - [`api`]: the HTTP calls, tokens and retries; [`model`]: the answers;
//! - [`profile`]: the config file, profiles and private state files;
//! - [`error`]: failures and their exit codes.

pub mod api;
pub mod cli;
pub mod error;
pub mod mirror;
pub mod model;
pub mod profile;
pub mod remote;
pub mod transfer;
