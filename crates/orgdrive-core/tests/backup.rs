//! Backups in the domain: the trash hold, and the incremental, checked copy
//! of a snapshot's objects into a target and back.

mod common;

use common::*;
use orgdrive_core::backup::{
    snapshot_contents, snapshot_references, BackupFile, BackupManifest, BackupTarget,
    SnapshotContents, BACKUP_FORMAT,
};

async fn contents_of(meta: &SqliteStore, blob: &BlobStore) -> SnapshotContents {
    let references = snapshot_references(meta).await.unwrap();
    snapshot_contents(references, blob).await.unwrap()
}

async fn object_count(w: &World) -> usize {
    w.drive.blob().list("objects/").await.unwrap().len()
}

/// Bytes that go to the content store: more than the metadata store keeps
/// inline.
const BIG: usize = 70_000;

fn big(fill: &str, extra: usize) -> Vec<u8> {
    fill.as_bytes().iter().copied().cycle().take(BIG + extra).collect()
}

#[tokio::test]
async fn a_backup_hold_keeps_deleted_content_until_it_is_released() {
    let w = world().await;
    let s = space(&w, None).await;
    let file = upload(&w, &s, "a.txt", &big("kept for the backup", 0), None).await.unwrap();
    let before = object_count(&w).await;
    // The backup is another process on the same metadata.
    let backup = drive_on(&w.dir, options()).await;
    assert!(backup.hold_trash(false).await.unwrap());
    w.drive.delete_dentry(&w.op, &s, &file.dentry.dentry_id, false).await.unwrap();
    w.drive.sweep_trash().await.unwrap();
    assert_eq!(object_count(&w).await, before, "deleted while a backup held the trash");
    // A second backup waits for the hold, or takes it over.
    let later = drive_on(&w.dir, options()).await;
    assert!(!later.hold_trash(false).await.unwrap());
    assert!(later.hold_trash(true).await.unwrap());
    assert!(!backup.hold_trash(false).await.unwrap(), "the first lost its hold");
    backup.release_trash_hold().await.unwrap();
    w.drive.sweep_trash().await.unwrap();
    assert_eq!(object_count(&w).await, before, "a non-holder's release changes nothing");
    later.release_trash_hold().await.unwrap();
    w.drive.sweep_trash().await.unwrap();
    assert_eq!(object_count(&w).await, before - 1);
    assert_consistent(&w).await;
}

/// A manifest of `objects` whose metadata file is `meta` (already in the target).
fn manifest(
    id: &str,
    meta: BackupFile,
    report: orgdrive_core::backup::CopyReport,
) -> BackupManifest {
    BackupManifest {
        format: BACKUP_FORMAT,
        snapshot: id.into(),
        taken_at: "2026-12-03T00:00:00Z".into(),
        orgdrive_version: "test".into(),
        schema_version: 1,
        metadata: meta,
        signing_key: None,
        counts: Default::default(),
        object_bytes: report.objects.iter().map(|o| o.size).sum(),
        objects: report.objects,
    }
}

#[tokio::test]
async fn backups_copy_only_new_objects_are_verified_and_restore_checked() {
    let w = world().await;
    let s = space(&w, None).await;
    for name in ["a", "b", "c"] {
        upload(&w, &s, name, &big(name, 0), None).await.unwrap();
    }
    let meta = SqliteStore::open(&w.dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = BackupTarget::new(BlobStore::filesystem(&dir.path().join("t"), false).unwrap());
    let source = w.drive.blob();
    let (never, quiet) = (|| false, |_, _| {});

    // The metadata file of each snapshot, as the binary stores it.
    let local = BlobStore::filesystem(&w.dir.path().join("x"), false).unwrap();
    let bytes = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"db"))]);
    local.write_stream("meta", bytes, None, false).await.unwrap();
    let meta_file = |id: &'static str| {
        let (local, target) = (local.clone(), target.clone());
        async move {
            let key = BackupTarget::snapshot_key(id, "meta.sqlite");
            let f = local.copy_raw("meta", target.store(), &key).await.unwrap();
            BackupFile { key, size: f.size, sha256: f.sha256 }
        }
    };

    let contents = contents_of(&meta, source).await;
    assert_eq!(contents.counts.contents, 3);
    let keys = contents;
    let told = std::sync::Mutex::new((0, 0));
    let count = |objects, bytes| {
        let mut told = told.lock().unwrap();
        *told = (told.0 + objects, told.1 + bytes);
    };
    let first = target.copy_content(source, &keys, &count, &never).await.unwrap();
    let all = 3 * BIG as u64;
    assert_eq!((first.copied, first.copied_bytes, first.objects.len()), (3, all, 3));
    assert_eq!(*told.lock().unwrap(), (3, all), "progress tells every object and byte");
    // Interrupted: no manifest, no snapshot; nothing it copied is trusted.
    assert!(target.snapshots().await.unwrap().is_empty());
    let again = target.copy_content(source, &keys, &quiet, &never).await.unwrap();
    assert_eq!((again.copied, &again.objects), (3, &first.objects));
    target.write_manifest(&manifest("1", meta_file("1").await, again)).await.unwrap();

    upload(&w, &s, "d", &big("d", 4), None).await.unwrap();
    let keys = contents_of(&meta, source).await;
    let second = target.copy_content(source, &keys, &quiet, &never).await.unwrap();
    let one = BIG as u64 + 4;
    assert_eq!((second.copied, second.copied_bytes, second.objects.len()), (1, one, 4));
    let written = manifest("2", meta_file("2").await, second);
    target.write_manifest(&written).await.unwrap();
    assert_eq!(target.snapshots().await.unwrap(), ["1", "2"]);
    let latest = target.manifest(None).await.unwrap();
    assert_eq!(latest, written);
    assert!(target.verify(&latest, &quiet).await.is_empty());

    // Pruning to the latest snapshot keeps exactly what it lists: objects
    // only older snapshots (or interrupted backups) had go.
    let stray = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"old"))]);
    target.store().write_stream("content/objects/stray", stray, None, false).await.unwrap();
    let pruned = target.prune(1).await.unwrap();
    assert_eq!((pruned.snapshots, pruned.objects, pruned.bytes), (vec!["1".to_string()], 1, 3));
    assert_eq!(target.snapshots().await.unwrap(), ["2"]);
    assert!(target.verify(&latest, &quiet).await.is_empty());
    assert!(target.prune(0).await.is_err());

    // A lost hold stops a copy.
    let lost = target.copy_content(source, &keys, &quiet, &|| true).await;
    assert!(lost.is_err());

    // Restored, the objects are the same bytes under the same keys.
    let restored = BlobStore::memory().unwrap();
    target.restore_content(&latest, &restored, &quiet).await.unwrap();
    for object in &latest.objects {
        assert_eq!(restored.fingerprint(&object.key).await.unwrap().unwrap().sha256, object.sha256);
    }

    // Damage: a flipped byte, a missing object.
    let (damaged, gone) = (&latest.objects[0], &latest.objects[1]);
    let damaged_path = dir.path().join("t/content").join(&damaged.key);
    let mut bytes = std::fs::read(&damaged_path).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&damaged_path, bytes).unwrap();
    std::fs::remove_file(dir.path().join("t/content").join(&gone.key)).unwrap();
    let problems = target.verify(&latest, &quiet).await;
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains(&damaged.key) && p.contains("SHA-256")));
    assert!(problems.iter().any(|p| p.contains(&gone.key) && p.contains("missing")));
    let refused = target.restore_content(&latest, &BlobStore::memory().unwrap(), &quiet).await;
    assert!(refused.is_err());
    // The next backup copies a missing or resized object again from the
    // source: such damage is never vouched for by a later backup (a flipped
    // byte is `verify`'s to find: backups do not read what they keep).
    let truncated = dir.path().join("t/content").join(&latest.objects[2].key);
    std::fs::write(&truncated, b"short").unwrap();
    let repaired = target.copy_content(source, &keys, &quiet, &never).await.unwrap();
    assert_eq!(repaired.copied, 2, "the missing and the truncated object");
    assert_eq!(repaired.objects, latest.objects);
    assert_eq!(target.verify(&latest, &quiet).await.len(), 1, "the flipped byte");
    (&meta as &dyn orgdrive_core::MetaStore).close().await;
}

#[tokio::test]
async fn an_open_uploads_bytes_may_vanish_but_a_files_content_may_not() {
    let w = world().await;
    let s = space(&w, None).await;
    let file = upload(&w, &s, "kept", &big("a file's content", 0), None).await.unwrap();
    let ticket = w.drive.get_file_upload_info(&w.op, &s, single(PreCheck::default()), BASE);
    put_bytes(&w, &ticket.await.unwrap().url, &big("not committed yet", 0), true).await.unwrap();
    let meta = SqliteStore::open(&w.dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    let contents = contents_of(&meta, w.drive.blob()).await;
    assert_eq!((contents.objects.len(), contents.may_vanish.len()), (2, 1));
    let dir = tempfile::tempdir().unwrap();
    let target = BackupTarget::new(BlobStore::filesystem(dir.path(), false).unwrap());
    let (never, quiet) = (|| false, |_, _| {});

    // The upload expired (or was committed) after the snapshot: skipped.
    let part = contents.may_vanish.iter().next().unwrap().clone();
    w.drive.blob().delete(&part).await.unwrap();
    let report = target.copy_content(w.drive.blob(), &contents, &quiet, &never).await.unwrap();
    assert_eq!((report.copied, report.vanished), (1, 1));

    // A file's content gone is a broken drive, never a smaller backup.
    let content = contents.objects.iter().find(|k| **k != part).unwrap().clone();
    assert!(!file.dentry.dentry_id.is_empty());
    w.drive.blob().delete(&content).await.unwrap();
    let fresh = BackupTarget::new(BlobStore::filesystem(&dir.path().join("b"), false).unwrap());
    let missing = fresh.copy_content(w.drive.blob(), &contents, &quiet, &never).await;
    let message = missing.err().unwrap().to_string();
    assert!(message.contains(&content) && message.contains("fsck"), "{message}");
    (&meta as &dyn orgdrive_core::MetaStore).close().await;
}

#[tokio::test]
async fn small_objects_travel_inside_the_metadata_snapshot() {
    let w = world().await;
    let s = space(&w, None).await;
    let small = upload(&w, &s, "small.txt", b"kept inline", None).await.unwrap();
    let large = upload(&w, &s, "large.bin", &big("on disk", 0), None).await.unwrap();
    let ticket = w.drive.get_file_upload_info(&w.op, &s, single(PreCheck::default()), BASE);
    put_bytes(&w, &ticket.await.unwrap().url, b"an open upload", true).await.unwrap();
    let meta = SqliteStore::open(&w.dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    let contents = contents_of(&meta, w.drive.blob()).await;
    // Both files and the open upload count; only the large content is copied.
    assert_eq!((contents.counts.contents, contents.counts.open_uploads), (2, 1));
    assert_eq!(contents.objects, [large.dentry.blob_key.clone().unwrap()]);
    assert!(contents.may_vanish.is_empty());
    assert!(small.dentry.blob_key.as_deref().unwrap().starts_with("inline/"));
    assert_eq!(object_count(&w).await, 1, "the small file has no object of its own");
    (&meta as &dyn orgdrive_core::MetaStore).close().await;
}
