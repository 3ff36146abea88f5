//! WebDAV dead properties: what PROPPATCH sets on a file or folder and
//! PROPFIND reads back (Windows writes its file times there, litmus its
//! test properties). A property is named by its XML namespace and local
//! name; its value is the element as the client sent it. A dentry's
//! properties live and die with it.

use async_trait::async_trait;

use crate::StoreResult;

/// One dead property of a dentry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadProperty {
    /// The XML namespace (`""` for none).
    pub namespace: String,
    pub name: String,
    /// The prefix the client used for the namespace.
    pub prefix: String,
    /// The whole property element, as XML.
    pub xml: Vec<u8>,
}

/// What [`DavStore::patch_dead_properties`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyPatch {
    Done,
    /// More than the allowed number would remain: nothing changed.
    TooMany,
}

#[async_trait]
pub trait DavStore: Send + Sync + 'static {
    /// The dentry's dead properties, by namespace and name.
    async fn dead_properties(&self, dentry_id: &str) -> StoreResult<Vec<DeadProperty>>;
    /// In one transaction: removes the properties named in `remove`
    /// (namespace, name; absent ones are no error), then sets those of
    /// `set` (replacing same-named ones); refuses, changing nothing, when
    /// more than `max` would remain. `NotFound` unless the dentry exists.
    async fn patch_dead_properties(
        &self,
        dentry_id: &str,
        set: &[DeadProperty],
        remove: &[(String, String)],
        max: usize,
    ) -> StoreResult<PropertyPatch>;
}
