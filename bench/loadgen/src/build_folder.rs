//! Builds an orgdrive data dir holding one folder with N descendants,
//! directly through the metadata store (`orgdrive-sqlite`): an org, an app
//! with every Storage.* scope and a known appKey/appSecret, a user, a USER
//! space, the folder `big` (or `--folder-name`) under the root and below it
//! either N FILE dentries (the large-folder ListDentries timing) or, with
//! `--subfolders K`, K folders `dir-0000`... holding the N − K files round
//! robin (the move and copy of a folder with many descendants). Files are
//! named `file-0000000.bin`..., with distinct modified and created times and
//! a dummy blob key (size 0): listing, moving and copying never open the
//! content (a copy shares its source's blob key).
//!
//! Every row is a live (`NORMAL`) dentry of the space whose parent is a live
//! folder of the same space: the same rows AddFolder and CommitFile write
//! (checked by the harness through the API before it uses the folder).

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use orgdrive_sqlite::{SqliteOptions, SqliteStore};
use orgdrive_store::{
    AppRecord, DentryRecord, IdentityStore, MaintenanceStore, OrgRecord, SpaceRecord, SpaceStore,
    UserRecord,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const SCOPES: &[&str] = &[
    "Storage.Space.Write",
    "Storage.Space.Read",
    "Storage.Org.Read",
    "Storage.File.Write",
    "Storage.File.Read",
    "Storage.UploadInfo.Read",
    "Storage.DownloadInfo.Read",
    "Storage.Permission.Write",
    "Storage.Permission.Read",
    "Storage.RecycleBin.Read",
    "Storage.RecycleBin.Write",
    "Storage.Task.Read",
    "Storage.Event.Write",
];

const CORP_ID: &str = "dingbench0000000000";
const APP_ID: &str = "900000000000000001";
const UNION_ID: &str = "benchUser0000000000001";
const SPACE_ID: &str = "900000000000000002";
const FOLDER_ID: &str = "900000000000000003";
/// File dentry ids are FIRST_FILE_ID + i (far above today's snowflake ids).
const FIRST_FILE_ID: u64 = 910_000_000_000_000_000;
/// Subfolder dentry ids are FIRST_SUBFOLDER_ID + j.
const FIRST_SUBFOLDER_ID: u64 = 905_000_000_000_000_000;

/// Same as orgdrive-core's `identity::secret_hash`: hex SHA-256 of `salt || secret`.
fn secret_hash(salt: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn run(
    data_dir: &Path,
    entries: u64,
    batch: usize,
    app_key: &str,
    app_secret: &str,
    subfolders: u64,
    folder_name: &str,
) -> Result<Value> {
    if subfolders > entries {
        bail!("--subfolders {subfolders} is more than --entries {entries}");
    }
    std::fs::create_dir_all(data_dir)?;
    let db = data_dir.join("meta.sqlite");
    // Bulk load without per-commit fsync; orgdrive reopens it with synchronous=FULL.
    let store = SqliteStore::open(&db, &SqliteOptions { readers: 1, durable: false }).await?;
    if !store.is_empty().await? {
        bail!("{} already holds an organization; give an empty data dir", db.display());
    }
    let started = Instant::now();
    let now = now_ms();
    store
        .insert_org(&OrgRecord {
            corp_id: CORP_ID.into(),
            name: "Bench (1M folder)".into(),
            capacity: None,
            created_at: now,
            modified_at: now,
        })
        .await?;
    let salt = "0123456789abcdef0123456789abcdef".to_string();
    store
        .insert_app(&AppRecord {
            app_id: APP_ID.into(),
            corp_id: CORP_ID.into(),
            name: "bench".into(),
            app_key: app_key.into(),
            secret_hash: secret_hash(&salt, app_secret),
            secret_salt: salt,
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            created_at: now,
            modified_at: now,
        })
        .await?;
    store
        .insert_user(&UserRecord {
            union_id: UNION_ID.into(),
            corp_id: CORP_ID.into(),
            user_id: "benchuser".into(),
            name: "Bench User".into(),
            org_admin: true,
            created_at: now,
        })
        .await?;
    let (space, _) = store
        .insert_space_once(&SpaceRecord {
            space_id: SPACE_ID.into(),
            corp_id: CORP_ID.into(),
            app_id: APP_ID.into(),
            scene: "bench".into(),
            scene_id: "big-folder".into(),
            name: Some("bench big folder".into()),
            owner_type: "USER".into(),
            owner_id: UNION_ID.into(),
            creator_id: UNION_ID.into(),
            modifier_id: UNION_ID.into(),
            quota: None,
            used_bytes: 0,
            status: "NORMAL".into(),
            can_search: true,
            can_rename: true,
            can_record_recent_file: true,
            created_at: now,
            modified_at: now,
        })
        .await?;
    let dentry = |id: String, parent: &str, kind: &str, name: String, t: i64| DentryRecord {
        uuid: format!("bench-{id}"),
        dentry_id: id,
        space_id: space.space_id.clone(),
        parent_id: parent.into(),
        kind: kind.into(),
        name,
        size: 0,
        version: 1,
        status: "NORMAL".into(),
        blob_key: (kind == "FILE").then(|| "objects/bench-no-content".to_string()),
        creator_id: UNION_ID.into(),
        modifier_id: UNION_ID.into(),
        created_at: t,
        modified_at: t,
        // Fields added to the record later (e.g. read-side app properties) keep their defaults.
        ..Default::default()
    };
    store
        .insert_dentries_unchecked(&[dentry(
            FOLDER_ID.into(),
            "0",
            "FOLDER",
            folder_name.into(),
            now,
        )])
        .await?;
    let subfolder_ids: Vec<String> =
        (0..subfolders).map(|j| (FIRST_SUBFOLDER_ID + j).to_string()).collect();
    for (chunk_no, chunk) in subfolder_ids.chunks(batch).enumerate() {
        let rows: Vec<DentryRecord> = chunk
            .iter()
            .enumerate()
            .map(|(k, id)| {
                let j = chunk_no * batch + k;
                dentry(id.clone(), FOLDER_ID, "FOLDER", format!("dir-{j:04}"), now)
            })
            .collect();
        store.insert_dentries_unchecked(&rows).await?;
    }
    // Files: times spread backwards from `now`, one ms apart.
    let files = entries - subfolders;
    let base = now - files as i64;
    let mut done = 0u64;
    let mut last_report = Instant::now();
    while done < files {
        let n = (files - done).min(batch as u64);
        let rows: Vec<DentryRecord> = (done..done + n)
            .map(|i| {
                let parent = match subfolders {
                    0 => FOLDER_ID,
                    k => subfolder_ids[(i % k) as usize].as_str(),
                };
                dentry(
                    (FIRST_FILE_ID + i).to_string(),
                    parent,
                    "FILE",
                    format!("file-{i:07}.bin"),
                    base + i as i64,
                )
            })
            .collect();
        store.insert_dentries_unchecked(&rows).await?;
        done += n;
        if last_report.elapsed().as_secs() >= 5 {
            eprintln!(
                "[build-folder] {done}/{files} files ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    store.close().await;
    let secs = started.elapsed().as_secs_f64();
    Ok(json!({
        "cmd": "build-folder",
        "dataDir": data_dir.display().to_string(),
        "entries": entries,
        "subfolders": subfolders,
        "files": files,
        "folderName": folder_name,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "rows_per_s": (entries as f64 / secs).round(),
        "corpId": CORP_ID,
        "appKey": app_key,
        "appSecret": app_secret,
        "unionId": UNION_ID,
        "spaceId": space.space_id,
        "folderId": FOLDER_ID,
    }))
}
