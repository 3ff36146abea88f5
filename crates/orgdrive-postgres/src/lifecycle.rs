//! The dentry lifecycle: tree changes ([`tree`]), recycle bins ([`recycle`])
//! and persisted tasks ([`tasks`]).

mod recycle;
mod tasks;
mod tree;

use orgdrive_store::StoreError;

/// What a method not ported yet answers.
pub(crate) fn not_yet() -> StoreError {
    StoreError::Backend("not implemented yet".into())
}
