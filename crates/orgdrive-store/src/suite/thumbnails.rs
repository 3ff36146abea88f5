//! The thumbnail contract: a record per content object, kept only while the
//! content is referenced, and gone (its object trashed) with the content.

use super::fixtures::*;
use crate::*;

fn thumb(blob_key: &str, object_key: Option<&str>) -> ThumbnailRecord {
    ThumbnailRecord {
        blob_key: blob_key.into(),
        status: if object_key.is_some() { "READY" } else { "FAILED" }.into(),
        object_key: object_key.map(str::to_string),
        width: 8,
        height: 4,
        size: 99,
        created_at: 10,
    }
}

fn keys(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

pub async fn thumbnails_belong_to_their_content_and_leave_with_it(s: &impl MetaStore) {
    tree(s, None, None).await;
    // Content no file refers to gets no record.
    assert!(!s.put_thumbnail(&thumb("objects/nobody", Some("thumbs/n"))).await.unwrap());
    assert!(s.get_thumbnails(&keys(&["objects/nobody"])).await.unwrap().is_empty());
    // One record per content object: the first stays.
    assert!(s.put_thumbnail(&thumb("objects/f1", Some("thumbs/a"))).await.unwrap());
    assert!(!s.put_thumbnail(&thumb("objects/f1", Some("thumbs/b"))).await.unwrap());
    assert!(s.put_thumbnail(&thumb("objects/f3", None)).await.unwrap());
    let mut got =
        s.get_thumbnails(&keys(&["objects/f1", "objects/f3", "objects/x"])).await.unwrap();
    got.sort_by(|a, b| a.blob_key.cmp(&b.blob_key));
    assert_eq!(got, [thumb("objects/f1", Some("thumbs/a")), thumb("objects/f3", None)]);
    assert_eq!(s.consistency_scan().await.unwrap().thumbnail_objects, ["thumbs/a"]);
    // Binned, the content is still referenced: the record stays.
    s.delete_dentry(&deleting("f3", Some("r1"))).await.unwrap();
    assert_eq!(s.get_thumbnails(&keys(&["objects/f3"])).await.unwrap().len(), 1);
    // Removed for good with the last file of its content: the record goes,
    // its object into the trash in the same transaction.
    let removed = s.delete_dentry(&deleting("f1", None)).await.unwrap();
    assert_eq!(removed.trashed_objects, ["objects/f1", "thumbs/a"]);
    assert!(s.get_thumbnails(&keys(&["objects/f1"])).await.unwrap().is_empty());
    let mut trash = s.trashed_objects(10).await.unwrap();
    trash.sort();
    assert_eq!(trash, ["objects/f1", "thumbs/a"]);
    assert!(s.consistency_scan().await.unwrap().thumbnail_objects.is_empty());
    assert_consistent(s).await;
}
