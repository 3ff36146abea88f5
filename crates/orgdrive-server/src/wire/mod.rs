//! Wire types: one Rust type per JSON object of the DingTalk API (and of the
//! admin API), with the exact camelCase field names, and the conversions from
//! domain views. Optional fields absent from a response are omitted, never null.
//!
//! Also the wire's documentation-only types, which give the OpenAPI document
//! what serde's types cannot: the query parameters ([`UnionIdQuery`],
//! [`ListDentriesQuery`]), the error answers operations share
//! ([`StorageErrors`], [`UploadLimitErrors`]) and the values of string fields
//! (`vocab`).
//!
//! One module per family of operations: `errors` (the error body),
//! `identity` (GetAccessToken, `unionId`), `spaces` (AddSpace, GetSpace, and
//! the `partitions[]` of spaces, orgs and apps), `orgs` (GetOrg,
//! GetCurrentApp), `dentries` (files and folders), `transfer` (uploads,
//! CommitFile, downloads), `lifecycle` (rename, move, copy, delete, their
//! batches' result items, `{"success": true}`), `versions` (versions and app
//! property edits), `permissions` (grants and roles), `recycle` (the recycle bin), `thumbnails` (GetDentryThumbnails), `tasks` (GetTask), `events` (subscriptions, the
//! event payload, the Stream gateway's frames, callbacks), `weboffice`
//! (GetWebOfficeUrl, RefreshWebOfficeToken), `admin`
//! (the admin API), `vocab`. Every type is exported here, at one path. The
//! wire depends on nothing else of this crate: only on serde, utoipa and the
//! domain's views.

mod admin;
mod dentries;
mod errors;
mod events;
mod identity;
mod lifecycle;
mod open_info;
mod orgs;
mod permissions;
mod recycle;
mod spaces;
mod tasks;
mod thumbnails;
mod transfer;
mod versions;
mod vocab;
mod weboffice;

pub use admin::*;
pub use dentries::*;
pub use errors::*;
pub use events::*;
pub use identity::*;
pub use lifecycle::*;
pub use open_info::*;
pub use orgs::*;
pub use permissions::*;
pub use recycle::*;
pub use spaces::*;
pub use tasks::*;
pub use thumbnails::*;
pub use transfer::*;
pub use versions::*;
pub use vocab::*;
pub use weboffice::*;
