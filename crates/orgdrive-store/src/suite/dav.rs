//! The WebDAV dead-property contract: set, replace and remove by namespace
//! and name in one transaction, bounded per dentry, kept while the dentry is
//! in the recycle bin and gone with it.

use super::fixtures::*;
use crate::*;

fn prop(namespace: &str, name: &str, value: &str) -> DeadProperty {
    DeadProperty {
        namespace: namespace.into(),
        name: name.into(),
        prefix: "x".into(),
        xml: format!("<x:{name} xmlns:x=\"{namespace}\">{value}</x:{name}>").into_bytes(),
    }
}

async fn names(s: &impl MetaStore, dentry: &str) -> Vec<(String, String)> {
    let mut props: Vec<_> = s
        .dead_properties(dentry)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.namespace, String::from_utf8(p.xml).unwrap()))
        .collect();
    props.sort();
    props
}

pub async fn dead_properties_are_patched_at_once_bounded_and_leave_with_the_dentry(
    s: &impl MetaStore,
) {
    tree(s, None, None).await;
    assert!(s.dead_properties("f1").await.unwrap().is_empty());
    let set = [prop("urn:a", "one", "1"), prop("urn:b", "one", "2")];
    assert_eq!(s.patch_dead_properties("f1", &set, &[], 3).await.unwrap(), PropertyPatch::Done);
    assert_eq!(names(s, "f1").await.len(), 2);
    // Same namespace and name: replaced; removals first, then sets.
    let set = [prop("urn:a", "one", "one again"), prop("urn:c", "three", "3")];
    let remove = [("urn:b".to_string(), "one".to_string()), ("urn:z".into(), "absent".into())];
    assert_eq!(s.patch_dead_properties("f1", &set, &remove, 3).await.unwrap(), PropertyPatch::Done);
    let now = names(s, "f1").await;
    assert_eq!(now.iter().map(|(ns, _)| ns.as_str()).collect::<Vec<_>>(), ["urn:a", "urn:c"]);
    assert!(now[0].1.contains("one again"));
    // Past the bound: nothing changes, not even the removal.
    let set = [prop("urn:d", "d", "4"), prop("urn:e", "e", "5"), prop("urn:f", "f", "6")];
    let remove = [("urn:a".to_string(), "one".to_string())];
    assert_eq!(
        s.patch_dead_properties("f1", &set, &remove, 3).await.unwrap(),
        PropertyPatch::TooMany
    );
    assert_eq!(names(s, "f1").await, now);
    assert!(matches!(s.patch_dead_properties("zz", &set, &[], 3).await, Err(StoreError::NotFound)));
    // Binned: kept; removed for good: gone.
    s.delete_dentry(&deleting("f1", Some("r1"))).await.unwrap();
    assert_eq!(names(s, "f1").await, now);
    s.patch_dead_properties("t", &[prop("urn:a", "t", "t")], &[], 3).await.unwrap();
    s.delete_dentry(&deleting("t", None)).await.unwrap();
    assert!(s.dead_properties("t").await.unwrap().is_empty());
    assert_consistent(s).await;
}
