//! orgdrive's domain: the rules of the DingTalk storage model, free of HTTP
//! and SQL. [`Drive`] is the service API the HTTP layer and the command line
//! call; it owns a metadata store ([`orgdrive_meta::MetaStore`]) and a content
//! store ([`orgdrive_blob::BlobStore`]).
//!
//! Modules: `identity` (orgs, apps, users, departments, first-start demo data),
//! `auth` (access tokens, scopes, the acting operator and the one place that
//! decides "may this operator do this here?"), `spaces` (spaces and their
//! quota views), `validate` (input rules shared by operations).

mod auth;
mod clock;
mod error;
mod identity;
mod ids;
mod scope;
mod spaces;
mod validate;

use std::sync::Arc;

pub use auth::{AccessToken, Operator, Principal, ACCESS_TOKEN_TTL_SECS};
pub use clock::{iso8601, now_ms};
pub use error::{DriveError, DriveResult};
pub use identity::{CreatedApp, DemoAccount, NewApp, NewDept, NewOrg, NewUser};
pub use ids::random_token;
pub use orgdrive_blob::BlobStore;
pub use orgdrive_meta::{AppRecord, DeptRecord, MetaStore, OrgRecord, SpaceRecord, UserRecord};
pub use scope::Scope;
pub use spaces::{AppView, NewSpace, OrgView, Partition, PartitionQuota, QuotaType, SpaceView};

/// The drive service: every operation of the API goes through here.
#[derive(Clone)]
pub struct Drive {
    meta: Arc<dyn MetaStore>,
    blob: BlobStore,
    ids: Arc<ids::IdGenerator>,
}

impl Drive {
    /// Builds the service over its stores; registers this process as a node
    /// so that the ids it generates never collide with another node's.
    pub async fn new(meta: Arc<dyn MetaStore>, blob: BlobStore) -> DriveResult<Drive> {
        let node = meta.register_node(now_ms()).await?;
        blob.check().await.map_err(|e| DriveError::Internal(e.to_string()))?;
        Ok(Drive { meta, blob, ids: Arc::new(ids::IdGenerator::new(node)) })
    }

    /// The content store.
    pub fn blob(&self) -> &BlobStore {
        &self.blob
    }

    /// Periodic housekeeping: removes expired access tokens.
    pub async fn sweep(&self) -> DriveResult<u64> {
        Ok(self.meta.purge_expired_tokens(now_ms()).await?)
    }
}
