//! Org and app information: GetOrg and GetCurrentApp.

use orgdrive_core::{iso8601, AppView, OrgView};
use serde::Serialize;
use utoipa::ToSchema;

use super::spaces::PartitionWire;

#[derive(Serialize, ToSchema)]
pub struct GetOrgResponse {
    pub org: Org,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    pub corp_id: String,
    pub partitions: Vec<PartitionWire>,
}

impl From<OrgView> for Org {
    fn from(view: OrgView) -> Org {
        Org { corp_id: view.org.corp_id, partitions: PartitionWire::list(view.partitions) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GetCurrentAppResponse {
    pub app: App,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub app_id: String,
    pub corp_id: String,
    pub name: String,
    pub create_time: String,
    pub modified_time: String,
    pub partitions: Vec<PartitionWire>,
}

impl From<AppView> for App {
    fn from(view: AppView) -> App {
        App {
            app_id: view.app.app_id,
            corp_id: view.app.corp_id,
            name: view.app.name,
            create_time: iso8601(view.app.created_at),
            modified_time: iso8601(view.app.modified_at),
            partitions: PartitionWire::list(view.partitions),
        }
    }
}
