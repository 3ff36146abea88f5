//! Spaces: AddSpace and GetSpace, and the capacity view every quota-bearing
//! object shows (`partitions[]` of spaces, orgs and apps).

use orgdrive_core::{iso8601, Partition, SpaceView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::vocab::OwnerType;

#[derive(Deserialize, ToSchema)]
pub struct AddSpaceRequest {
    pub option: Option<AddSpaceOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddSpaceOption {
    pub name: Option<String>,
    /// Bytes; at most the org capacity.
    #[schema(minimum = 1)]
    pub quota: Option<i64>,
    pub capabilities: Option<Capabilities>,
    pub scene: Option<String>,
    pub scene_id: Option<String>,
    #[schema(value_type = Option<OwnerType>)]
    pub owner_type: Option<String>,
}

/// `capabilities` of a space, in requests (absent flags = false) and responses.
#[derive(Serialize, Deserialize, Default, Clone, Copy, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Capabilities {
    pub can_search: bool,
    pub can_rename: bool,
    pub can_record_recent_file: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SpaceResponse {
    pub space: Space,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Space {
    pub id: String,
    pub corp_id: String,
    pub creator_id: String,
    pub owner_type: String,
    pub owner_id: String,
    pub modifier_id: String,
    pub used_quota: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    pub status: String,
    pub create_time: String,
    pub modified_time: String,
    pub app_id: String,
    pub scene: String,
    pub scene_id: String,
    pub capabilities: Capabilities,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub partitions: Vec<PartitionWire>,
}

impl From<SpaceView> for Space {
    fn from(view: SpaceView) -> Space {
        let s = view.space;
        Space {
            id: s.space_id,
            corp_id: s.corp_id,
            creator_id: s.creator_id,
            owner_type: s.owner_type,
            owner_id: s.owner_id,
            modifier_id: s.modifier_id,
            used_quota: s.used_bytes,
            quota: view.quota,
            status: s.status,
            create_time: iso8601(s.created_at),
            modified_time: iso8601(s.modified_at),
            app_id: s.app_id,
            scene: s.scene,
            scene_id: s.scene_id,
            capabilities: Capabilities {
                can_search: s.can_search,
                can_rename: s.can_rename,
                can_record_recent_file: s.can_record_recent_file,
            },
            name: s.name,
            partitions: PartitionWire::list(view.partitions),
        }
    }
}

/// `partitions[]` of spaces, orgs and apps.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Partition)]
pub struct PartitionWire {
    pub partition_type: &'static str,
    pub quota: QuotaWire,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Quota)]
pub struct QuotaWire {
    pub used: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved: Option<i64>,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl From<Partition> for PartitionWire {
    fn from(p: Partition) -> PartitionWire {
        PartitionWire {
            partition_type: p.partition_type,
            quota: QuotaWire {
                used: p.quota.used,
                max: p.quota.max,
                reserved: p.quota.reserved,
                kind: p.quota.kind.as_str(),
            },
        }
    }
}

impl PartitionWire {
    /// The `partitions[]` of a domain view.
    pub fn list(partitions: Vec<Partition>) -> Vec<PartitionWire> {
        partitions.into_iter().map(PartitionWire::from).collect()
    }
}
