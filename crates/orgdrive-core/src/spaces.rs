//! Spaces (AddSpace, GetSpace) and the capacity views of spaces, the org
//! (GetOrg) and the calling app (GetCurrentApp).
//!
//! Capacity model: an org has a capacity (unlimited by default); a space may
//! have its own cap (`quota`), never above the org capacity. A capped space
//! reports a `PRIVATE` partition (`max` = cap, `reserved` = what is left of
//! it); an uncapped space and every app report `SHARE` (they share what the
//! org has left, `max` absent); the org itself is always `PRIVATE` (`max` =
//! its capacity, absent when unlimited).

use orgdrive_store::{AppRecord, OrgRecord, SpaceRecord};

use crate::auth::unknown_space;
use crate::policy::{owns, Operation, Place};
use crate::{now_ms, validate, Drive, DriveError, DriveResult, Operator};

/// The only partition type orgdrive stores into.
pub const PARTITION_TYPE: &str = "PUBLIC_OSS_PARTITION";

/// AddSpace input, as given (absent = default).
#[derive(Debug, Clone, Default)]
pub struct NewSpace {
    pub name: Option<String>,
    pub quota: Option<i64>,
    pub can_search: Option<bool>,
    pub can_rename: Option<bool>,
    pub can_record_recent_file: Option<bool>,
    pub scene: Option<String>,
    pub scene_id: Option<String>,
    pub owner_type: Option<String>,
}

/// `quota.type` of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaType {
    Share,
    Private,
}

impl QuotaType {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaType::Share => "SHARE",
            QuotaType::Private => "PRIVATE",
        }
    }
}

/// The capacity of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionQuota {
    pub used: i64,
    pub max: Option<i64>,
    pub reserved: Option<i64>,
    pub kind: QuotaType,
}

/// One storage partition with its capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub partition_type: &'static str,
    pub quota: PartitionQuota,
}

impl Partition {
    /// A partition using `used` bytes of `max` (if capped); `reserved` is what
    /// is left of the cap.
    fn new(used: i64, max: Option<i64>, kind: QuotaType) -> Partition {
        let reserved = max.map(|max| (max - used).max(0));
        Partition {
            partition_type: PARTITION_TYPE,
            quota: PartitionQuota { used, max, reserved, kind },
        }
    }
}

/// A space as the API shows it.
#[derive(Debug, Clone)]
pub struct SpaceView {
    pub space: SpaceRecord,
    /// The cap that applies: the space cap bounded by the org capacity;
    /// `None` when neither is set.
    pub quota: Option<i64>,
    pub partitions: Vec<Partition>,
}

/// GetOrg's view.
#[derive(Debug, Clone)]
pub struct OrgView {
    pub org: OrgRecord,
    pub partitions: Vec<Partition>,
}

/// GetCurrentApp's view.
#[derive(Debug, Clone)]
pub struct AppView {
    pub app: AppRecord,
    pub partitions: Vec<Partition>,
}

fn min_cap(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn space_view(space: SpaceRecord, org: &OrgRecord) -> SpaceView {
    let quota = min_cap(space.quota, org.capacity);
    let cap = space.quota.map(|q| min_cap(Some(q), org.capacity).unwrap_or(q));
    let kind = if cap.is_some() { QuotaType::Private } else { QuotaType::Share };
    let partitions = vec![Partition::new(space.used_bytes, cap, kind)];
    SpaceView { space, quota, partitions }
}

/// A space's (scene, sceneId), AddSpace's defaults applied and checked.
pub(crate) fn scene_key(
    scene: Option<&str>,
    scene_id: Option<&str>,
) -> DriveResult<(String, String)> {
    Ok((
        validate::scene_token("scene", scene.unwrap_or("default"))?,
        validate::scene_token("sceneId", scene_id.unwrap_or("0"))?,
    ))
}

impl Drive {
    /// AddSpace: creates the space, or returns the one already stored under
    /// (org, app, scene, sceneId).
    pub async fn add_space(&self, op: &Operator, input: NewSpace) -> DriveResult<SpaceView> {
        let name = input.name.as_deref().map(|n| validate::display_name("name", n)).transpose()?;
        let (scene, scene_id) = scene_key(input.scene.as_deref(), input.scene_id.as_deref())?;
        let owner_type = match input.owner_type.as_deref().map(str::to_ascii_uppercase) {
            None => "USER".to_string(),
            Some(t) if t == "USER" || t == "APP" => t,
            Some(other) => {
                return Err(DriveError::param(
                    "ownerType",
                    format!("ownerType must be USER or APP, not {other}"),
                ))
            }
        };
        let org = self.org(op.corp_id()).await?;
        let quota = input.quota.map(|q| validate::positive_bytes("quota", q)).transpose()?;
        if let (Some(quota), Some(capacity)) = (quota, org.capacity) {
            if quota > capacity {
                return Err(DriveError::param(
                    "quota",
                    format!("quota {quota} exceeds the organization capacity {capacity}"),
                ));
            }
        }
        let owner_id =
            if owner_type == "APP" { op.app.app_id.clone() } else { op.user.union_id.clone() };
        let now = now_ms();
        let candidate = SpaceRecord {
            space_id: self.ids.next(),
            corp_id: org.corp_id.clone(),
            app_id: op.app.app_id.clone(),
            scene,
            scene_id,
            name,
            owner_type,
            owner_id,
            creator_id: op.user.union_id.clone(),
            modifier_id: op.user.union_id.clone(),
            quota,
            used_bytes: 0,
            status: "NORMAL".into(),
            can_search: input.can_search.unwrap_or(false),
            can_rename: input.can_rename.unwrap_or(false),
            can_record_recent_file: input.can_record_recent_file.unwrap_or(false),
            created_at: now,
            modified_at: now,
        };
        let (space, created) = self.meta.insert_space_once(&candidate).await?;
        if !created && !owns(op, &space) {
            // The scene's space exists and is another owner's: a caller is
            // never handed a space as if it were theirs (nor told about it).
            return Err(DriveError::PermissionDenied(format!(
                "the space of scene {}/{} belongs to another owner; use another sceneId",
                space.scene, space.scene_id
            )));
        }
        Ok(space_view(space, &org))
    }

    /// The space record, through the read cache.
    pub(crate) async fn space_record(&self, space_id: &str) -> DriveResult<SpaceRecord> {
        if let Some(space) = self.cache.spaces.get(space_id) {
            return Ok(space);
        }
        let version = self.cache.space_version();
        let space = self.meta.get_space(space_id).await?.ok_or_else(|| unknown_space(space_id))?;
        self.cache.remember_space(space.clone(), version);
        Ok(space)
    }

    /// After a write that changed the space's bytes.
    pub(crate) fn forget_space(&self, space_id: &str) {
        self.cache.forget_space(space_id);
    }

    /// GetSpace.
    pub async fn get_space(&self, op: &Operator, space_id: &str) -> DriveResult<SpaceView> {
        let space = self.space_for(op, space_id).await?;
        self.authorize(op, &space, Place::Root, Operation::GetSpace).await?;
        // On a store of this node's alone the counters come from the read
        // cache: every write drops its space once committed, before it
        // answers (GetTask drops the spaces of a task that just finished:
        // see `get_task`); background work shows within `SPACE_TTL`. Other
        // nodes' writes would show only within that TTL: on a shared store
        // the counters are read from the store.
        let space = if self.options.shared_store {
            self.meta.get_space(space_id).await?.unwrap_or(space)
        } else {
            space
        };
        let org = self.org(&space.corp_id).await?;
        Ok(space_view(space, &org))
    }

    /// GetOrg: only the operator's own organization is visible.
    pub async fn get_org(&self, op: &Operator, corp_id: &str) -> DriveResult<OrgView> {
        if corp_id != op.corp_id() {
            return Err(DriveError::PermissionDenied(format!(
                "the access token belongs to another organization than {corp_id}"
            )));
        }
        let org = self.org(corp_id).await?;
        let used = self.meta.org_used_bytes(corp_id).await?;
        let partitions = vec![Partition::new(used, org.capacity, QuotaType::Private)];
        Ok(OrgView { org, partitions })
    }

    /// GetCurrentApp: the app behind the access token.
    pub async fn current_app(&self, op: &Operator) -> DriveResult<AppView> {
        let used = self.meta.app_used_bytes(&op.app.app_id).await?;
        Ok(AppView {
            app: op.app.clone(),
            partitions: vec![Partition::new(used, None, QuotaType::Share)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(capacity: Option<i64>) -> OrgRecord {
        OrgRecord { corp_id: "c".into(), name: "o".into(), capacity, created_at: 0, modified_at: 0 }
    }

    fn space(quota: Option<i64>, used: i64) -> SpaceRecord {
        SpaceRecord {
            space_id: "1".into(),
            corp_id: "c".into(),
            app_id: "a".into(),
            scene: "default".into(),
            scene_id: "0".into(),
            name: None,
            owner_type: "USER".into(),
            owner_id: "u".into(),
            creator_id: "u".into(),
            modifier_id: "u".into(),
            quota,
            used_bytes: used,
            status: "NORMAL".into(),
            can_search: false,
            can_rename: false,
            can_record_recent_file: false,
            created_at: 0,
            modified_at: 0,
        }
    }

    #[test]
    fn capped_space_reports_a_private_partition() {
        let view = space_view(space(Some(1000), 200), &org(None));
        assert_eq!(view.quota, Some(1000));
        let q = &view.partitions[0].quota;
        assert_eq!(
            (q.used, q.max, q.reserved, q.kind),
            (200, Some(1000), Some(800), QuotaType::Private)
        );
    }

    #[test]
    fn uncapped_space_shares_the_org_capacity() {
        let view = space_view(space(None, 0), &org(Some(5000)));
        assert_eq!(view.quota, Some(5000));
        let q = &view.partitions[0].quota;
        assert_eq!((q.max, q.reserved, q.kind), (None, None, QuotaType::Share));
        assert_eq!(space_view(space(None, 0), &org(None)).quota, None);
    }

    #[test]
    fn space_cap_is_bounded_by_the_org_capacity() {
        let view = space_view(space(Some(9000), 0), &org(Some(4000)));
        assert_eq!(view.quota, Some(4000));
        assert_eq!(view.partitions[0].quota.max, Some(4000));
    }
}
