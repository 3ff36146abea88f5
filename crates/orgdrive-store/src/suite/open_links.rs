//! The open link contract: one link per dentry, provider and open type, the
//! latest registration the most recent, a bounded count per dentry, only on
//! live dentries of the space, kept in the bin and gone with the dentry.

use super::fixtures::*;
use crate::*;

fn link(dentry: &str, provider: &str, open_type: &str, url: &str) -> OpenLinkRecord {
    OpenLinkRecord {
        dentry_id: dentry.into(),
        provider: provider.into(),
        open_type: open_type.into(),
        url: url.into(),
        registered_at: 10,
    }
}

async fn latest(s: &impl MetaStore, dentry: &str, open_type: &str) -> Option<String> {
    s.get_open_link(dentry, open_type).await.unwrap().map(|l| l.url)
}

pub async fn open_links_are_replaced_the_latest_wins_and_they_leave_with_the_dentry(
    s: &impl MetaStore,
) {
    tree(s, None, None).await;
    assert_eq!(latest(s, "f1", "PREVIEW").await, None);
    let a = [link("f1", "A", "PREVIEW", "https://a/1"), link("f1", "A", "EDIT", "https://a/e")];
    assert!(s.put_open_links("1", "f1", &a, 3).await.unwrap());
    assert_eq!(latest(s, "f1", "PREVIEW").await.as_deref(), Some("https://a/1"));
    assert_eq!(latest(s, "f1", "EDIT").await.as_deref(), Some("https://a/e"));
    let b = [link("f1", "B", "PREVIEW", "https://b/1")];
    assert!(s.put_open_links("1", "f1", &b, 3).await.unwrap());
    assert_eq!(latest(s, "f1", "PREVIEW").await.as_deref(), Some("https://b/1"));
    // A's again: replaced, and now the most recent.
    let a2 = [link("f1", "A", "PREVIEW", "https://a/2")];
    assert!(s.put_open_links("1", "f1", &a2, 3).await.unwrap());
    assert_eq!(latest(s, "f1", "PREVIEW").await.as_deref(), Some("https://a/2"));
    // A fourth link passes the bound: refused, nothing written.
    let c = [link("f1", "C", "PREVIEW", "https://c/1")];
    assert!(!s.put_open_links("1", "f1", &c, 3).await.unwrap());
    assert_eq!(latest(s, "f1", "PREVIEW").await.as_deref(), Some("https://a/2"));
    // Only live dentries of the space.
    let other = [link("f1", "A", "PREVIEW", "https://x")];
    assert!(matches!(s.put_open_links("2", "f1", &other, 3).await, Err(StoreError::NotFound)));
    assert!(matches!(s.put_open_links("1", "zz", &other, 3).await, Err(StoreError::NotFound)));
    // Binned: kept (and no new ones); removed for good: gone.
    s.delete_dentry(&deleting("f1", Some("r1"))).await.unwrap();
    assert_eq!(latest(s, "f1", "EDIT").await.as_deref(), Some("https://a/e"));
    assert!(matches!(s.put_open_links("1", "f1", &other, 3).await, Err(StoreError::NotFound)));
    let t = [link("t", "A", "PREVIEW", "https://t")];
    assert!(s.put_open_links("1", "t", &t, 3).await.unwrap());
    s.delete_dentry(&deleting("t", None)).await.unwrap();
    assert_eq!(latest(s, "t", "PREVIEW").await, None);
    assert_consistent(s).await;
}
