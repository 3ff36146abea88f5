//! Consistency check (`orgdrive fsck`): every file's content exists with its
//! recorded size, no content object is left unreferenced (beyond a grace
//! period for writes in flight), byte counters — committed and reserved —
//! equal the sums they summarise, trees have no
//! orphans or cycles, live names are unique among siblings. `repair` fixes
//! what is safe to fix: counters are recomputed and unreferenced objects
//! (in the content store or kept inline in the metadata store) deleted;
//! missing content and broken trees are reported, never guessed at.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::{now_ms, Drive, DriveError, DriveResult};

/// Default age below which an unreferenced object is not reported: it may
/// belong to a PUT or a commit in flight.
pub const FSCK_GRACE_SECS: i64 = 600;

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    MissingContent {
        dentry_id: String,
        blob_key: String,
    },
    SizeMismatch {
        dentry_id: String,
        blob_key: String,
        recorded: i64,
        actual: u64,
    },
    UnreferencedObject {
        key: String,
        size: u64,
    },
    SpaceUsage {
        space_id: String,
        recorded: i64,
        actual: i64,
    },
    /// A space's counter of kept versions' bytes is off their sum.
    SpaceVersions {
        space_id: String,
        recorded: i64,
        actual: i64,
    },
    OrgUsage {
        corp_id: String,
        recorded: i64,
        actual: i64,
    },
    SpaceReserved {
        space_id: String,
        recorded: i64,
        actual: i64,
    },
    OrgReserved {
        corp_id: String,
        recorded: i64,
        actual: i64,
    },
    UploadUnderReserved {
        upload_key: String,
        reserved: i64,
        parts: i64,
    },
    Orphan {
        dentry_id: String,
        parent_id: String,
    },
    Cycle {
        dentry_id: String,
    },
    DuplicateName {
        space_id: String,
        parent_id: String,
        name: String,
    },
}

impl Problem {
    /// Whether `repair` fixes this kind of problem.
    pub fn repairable(&self) -> bool {
        matches!(
            self,
            Problem::UnreferencedObject { .. }
                | Problem::SpaceUsage { .. }
                | Problem::SpaceVersions { .. }
                | Problem::OrgUsage { .. }
                | Problem::SpaceReserved { .. }
                | Problem::OrgReserved { .. }
                | Problem::UploadUnderReserved { .. }
        )
    }

    fn is_counter(&self) -> bool {
        self.repairable() && !matches!(self, Problem::UnreferencedObject { .. })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingContent { dentry_id, blob_key } => {
                write!(f, "dentry {dentry_id}: content {blob_key} is missing")
            }
            Problem::SizeMismatch { dentry_id, blob_key, recorded, actual } => write!(
                f,
                "dentry {dentry_id}: content {blob_key} has {actual} bytes, {recorded} recorded"
            ),
            Problem::UnreferencedObject { key, size } => {
                write!(f, "object {key} ({size} bytes) is referenced by nothing")
            }
            Problem::SpaceUsage { space_id, recorded, actual } => {
                write!(f, "space {space_id}: usedQuota {recorded}, content adds up to {actual}")
            }
            Problem::SpaceVersions { space_id, recorded, actual } => write!(
                f,
                "space {space_id}: versions counter {recorded}, kept versions add up to {actual}"
            ),
            Problem::OrgUsage { corp_id, recorded, actual } => {
                write!(f, "org {corp_id}: used {recorded}, its spaces add up to {actual}")
            }
            Problem::SpaceReserved { space_id, recorded, actual } => {
                write!(f, "space {space_id}: {recorded} bytes reserved, its uploads hold {actual}")
            }
            Problem::OrgReserved { corp_id, recorded, actual } => {
                write!(f, "org {corp_id}: {recorded} bytes reserved, its spaces hold {actual}")
            }
            Problem::UploadUnderReserved { upload_key, reserved, parts } => write!(
                f,
                "upload {upload_key}: {reserved} bytes reserved, its recorded parts hold {parts}"
            ),
            Problem::Orphan { dentry_id, parent_id } => {
                write!(f, "dentry {dentry_id}: parent {parent_id} is not a folder of its space")
            }
            Problem::Cycle { dentry_id } => {
                write!(f, "dentry {dentry_id}: its parents form a cycle")
            }
            Problem::DuplicateName { space_id, parent_id, name } => {
                write!(f, "space {space_id}, folder {parent_id}: {name:?} is live more than once")
            }
        }
    }
}

/// What fsck found and, with repair, fixed.
#[derive(Debug, Clone, Default)]
pub struct FsckReport {
    pub dentries: usize,
    pub objects: usize,
    pub problems: Vec<Problem>,
    /// Problems that `repair` fixed.
    pub repaired: usize,
}

impl FsckReport {
    /// True when nothing is (left) inconsistent.
    pub fn clean(&self) -> bool {
        self.problems.len() == self.repaired
    }
}

fn internal(e: impl fmt::Display) -> DriveError {
    DriveError::Internal(e.to_string())
}

impl Drive {
    /// Checks the stores against each other; with `repair`, fixes counters and
    /// removes unreferenced objects. Objects younger than `grace_secs` are
    /// not judged (a PUT or commit may be writing them).
    pub async fn fsck(&self, repair: bool, grace_secs: i64) -> DriveResult<FsckReport> {
        // Inline objects are listed before the scan: one written meanwhile
        // is written with its reference, which the scan then sees.
        let mut objects = self.list_inline_objects().await?;
        let mut scan = self.meta.consistency_scan().await?;
        // `.incoming/` holds writes in progress; old ones are leftovers of a crash.
        // `manifests/`: content made of parts (listed with its content's
        // size); `chunks/<name>/`: the parts of manifest `manifests/<name>`.
        for prefix in ["objects/", "manifests/", "chunks/", "parts/", "thumbs/", ".incoming/"] {
            objects.extend(self.blob.list(prefix).await.map_err(internal)?);
        }
        let mut problems = Vec::new();

        let sizes: HashMap<&str, u64> = objects.iter().map(|o| (o.key.as_str(), o.size)).collect();
        for reference in &scan.blobs {
            match sizes.get(reference.blob_key.as_str()) {
                None => problems.push(Problem::MissingContent {
                    dentry_id: reference.dentry_id.clone(),
                    blob_key: reference.blob_key.clone(),
                }),
                Some(&actual) if actual != reference.size as u64 => {
                    problems.push(Problem::SizeMismatch {
                        dentry_id: reference.dentry_id.clone(),
                        blob_key: reference.blob_key.clone(),
                        recorded: reference.size,
                        actual,
                    })
                }
                Some(_) => {}
            }
        }

        let referenced = referenced_objects(&scan);
        let uploading: HashSet<&str> = scan.open_uploads.iter().map(String::as_str).collect();
        let settled_before = now_ms() / 1000 - grace_secs;
        // A manifest's parts are copied one by one before the manifest is
        // written: the parts of one manifest are as young as the newest of
        // them (a long commit's first copies are not judged alone); a part
        // whose store gives no time keeps its group young, as it would be
        // alone (never judged).
        let mut newest_chunk: HashMap<&str, Option<i64>> = HashMap::new();
        for object in &objects {
            if let Some(name) = chunk_group(&object.key) {
                let newest = newest_chunk.entry(name).or_insert(Some(i64::MIN));
                *newest = newest.zip(object.modified_unix).map(|(a, b)| a.max(b));
            }
        }
        let mut unreferenced = Vec::new();
        for object in &objects {
            // parts/<uploadKey>/...: an open upload may still record it.
            let open_part = object.key.starts_with("parts/")
                && uploading.contains(object.key.split('/').nth(1).unwrap_or_default());
            let modified = match chunk_group(&object.key) {
                Some(name) => newest_chunk[name],
                None => object.modified_unix,
            };
            let young = modified.is_none_or(|t| t > settled_before);
            // A manifest's part is judged with its manifest (whose removal
            // removes it); a part without its manifest is unreferenced.
            let manifest_part = chunk_group(&object.key).is_some_and(|name| {
                sizes.contains_key(format!("{}{name}", orgdrive_blob::MANIFEST_PREFIX).as_str())
            });
            if manifest_part {
                continue;
            }
            if !referenced.contains(object.key.as_str()) && !open_part && !young {
                unreferenced.push(object.key.clone());
                problems.push(Problem::UnreferencedObject {
                    key: object.key.clone(),
                    size: object.size,
                });
            }
        }

        // Each byte counter against the sum it summarises.
        type Mismatch = fn(String, i64, i64) -> Problem;
        let counters: [(&[orgdrive_store::UsageCheck], Mismatch); 5] = [
            (&scan.space_usage, |space_id, recorded, actual| Problem::SpaceUsage {
                space_id,
                recorded,
                actual,
            }),
            (&scan.org_usage, |corp_id, recorded, actual| Problem::OrgUsage {
                corp_id,
                recorded,
                actual,
            }),
            (&scan.space_versions, |space_id, recorded, actual| Problem::SpaceVersions {
                space_id,
                recorded,
                actual,
            }),
            (&scan.space_reserved, |space_id, recorded, actual| Problem::SpaceReserved {
                space_id,
                recorded,
                actual,
            }),
            (&scan.org_reserved, |corp_id, recorded, actual| Problem::OrgReserved {
                corp_id,
                recorded,
                actual,
            }),
        ];
        for (checks, mismatch) in counters {
            for usage in checks.iter().filter(|u| u.recorded != u.actual) {
                problems.push(mismatch(usage.id.clone(), usage.recorded, usage.actual));
            }
        }
        for upload in &scan.under_reserved_uploads {
            problems.push(Problem::UploadUnderReserved {
                upload_key: upload.id.clone(),
                reserved: upload.recorded,
                parts: upload.actual,
            });
        }
        problems.extend(tree_problems(&scan.tree));
        for (space_id, parent_id, name) in std::mem::take(&mut scan.duplicate_names) {
            problems.push(Problem::DuplicateName { space_id, parent_id, name });
        }

        let mut report =
            FsckReport { dentries: scan.tree.len(), objects: objects.len(), problems, repaired: 0 };
        // A repair scans again: the first scan and the listing go first
        // (on a large drive, each holds every file's key).
        drop(scan);
        drop(objects);
        if repair {
            let counters = report.problems.iter().filter(|p| p.is_counter()).count();
            if counters > 0 {
                self.meta.repair_usage().await?;
            }
            let spared = self.delete_unreferenced(&unreferenced).await?;
            // Referenced after all: no problem.
            report.problems.retain(
                |p| !matches!(p, Problem::UnreferencedObject { key, .. } if spared.contains(key)),
            );
            report.repaired = counters + unreferenced.len() - spared.len();
        }
        Ok(report)
    }

    /// Deletes the objects `fsck` found unreferenced, but those a write
    /// committed since refers to: the scan is a snapshot, so a commit that
    /// wrote its object (or a manifest's parts) first and recorded it after
    /// that snapshot is looked for again, in a second scan, and the
    /// manifests of parts are asked for again (a manifest is written before
    /// the commit that records it). Answers those spared.
    async fn delete_unreferenced(&self, candidates: &[String]) -> DriveResult<HashSet<String>> {
        let mut spared = HashSet::new();
        if candidates.is_empty() {
            return Ok(spared);
        }
        let scan = self.meta.consistency_scan().await?;
        let referenced = referenced_objects(&scan);
        let mut manifests: HashMap<&str, bool> = HashMap::new();
        for key in candidates {
            if referenced.contains(key.as_str()) {
                spared.insert(key.clone());
                continue;
            }
            if let Some(name) = chunk_group(key) {
                let manifest = format!("{}{name}", orgdrive_blob::MANIFEST_PREFIX);
                let written = match manifests.get(name) {
                    Some(written) => *written,
                    None => {
                        let found = self.blob.stat(&manifest).await.map_err(internal)?.is_some();
                        *manifests.entry(name).or_insert(found)
                    }
                };
                if written {
                    spared.insert(key.clone());
                    continue;
                }
            }
            self.delete_object(key).await?;
        }
        Ok(spared)
    }
}

/// The `<name>` of a manifest's part `chunks/<name>/<n>`.
fn chunk_group(key: &str) -> Option<&str> {
    key.strip_prefix("chunks/")?.split('/').next()
}

/// The objects the scan found a reference to, or that are being deleted.
fn referenced_objects(scan: &orgdrive_store::ConsistencyScan) -> HashSet<&str> {
    scan.blobs
        .iter()
        .map(|b| b.blob_key.as_str())
        .chain(scan.upload_objects.iter().map(String::as_str))
        // In the trash: unreferenced, deleted by the sweeper.
        .chain(scan.trashed_objects.iter().map(String::as_str))
        .chain(scan.thumbnail_objects.iter().map(String::as_str))
        .collect()
}

/// Orphans (parent missing or not a live folder of the same space) and cycles.
fn tree_problems(tree: &[crate::TreeNode]) -> Vec<Problem> {
    let nodes: HashMap<(&str, &str), &crate::TreeNode> =
        tree.iter().map(|n| ((n.space_id.as_str(), n.dentry_id.as_str()), n)).collect();
    let mut problems = Vec::new();
    for node in tree.iter().filter(|n| n.live) {
        if node.parent_id == crate::ROOT_ID {
            continue;
        }
        match nodes.get(&(node.space_id.as_str(), node.parent_id.as_str())) {
            Some(parent) if parent.is_folder && parent.live => {}
            _ => problems.push(Problem::Orphan {
                dentry_id: node.dentry_id.clone(),
                parent_id: node.parent_id.clone(),
            }),
        }
        // Walk up; more steps than there are nodes means a cycle.
        let mut current = node;
        for _ in 0..=tree.len() {
            if current.parent_id == crate::ROOT_ID {
                break;
            }
            match nodes.get(&(current.space_id.as_str(), current.parent_id.as_str())) {
                Some(parent) if parent.dentry_id == node.dentry_id => {
                    problems.push(Problem::Cycle { dentry_id: node.dentry_id.clone() });
                    break;
                }
                Some(parent) => current = parent,
                None => break,
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TreeNode;

    fn node(id: &str, parent: &str, is_folder: bool) -> TreeNode {
        TreeNode {
            space_id: "s".into(),
            dentry_id: id.into(),
            parent_id: parent.into(),
            is_folder,
            live: true,
        }
    }

    #[test]
    fn finds_orphans_and_cycles() {
        let tree = vec![
            node("1", "0", true),
            node("2", "1", false),
            node("3", "9", false),
            node("4", "2", false),
            node("5", "6", true),
            node("6", "5", true),
        ];
        let problems = tree_problems(&tree);
        assert!(
            problems.contains(&Problem::Orphan { dentry_id: "3".into(), parent_id: "9".into() })
        );
        assert!(
            problems.contains(&Problem::Orphan { dentry_id: "4".into(), parent_id: "2".into() })
        );
        assert!(problems.contains(&Problem::Cycle { dentry_id: "5".into() }));
        assert!(problems.contains(&Problem::Cycle { dentry_id: "6".into() }));
        assert!(!problems
            .iter()
            .any(|p| matches!(p, Problem::Orphan { dentry_id, .. } if dentry_id == "2")));
    }
}
