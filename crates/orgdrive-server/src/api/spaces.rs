//! Spaces: AddSpace (`POST /v1.0/storage/spaces`) and GetSpace
//! (`GET /v1.0/storage/spaces/{spaceId}`).

use axum::extract::State;
use axum::Json;
use orgdrive_core::NewSpace;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, Caller, WireJson, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{AddSpaceRequest, SpaceResponse, StorageErrors, UnionIdQuery};

/// AddSpace and GetSpace, each at the path and method its description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(add_space))
        .routes(utoipa_axum::routes!(get_space))
}

/// AddSpace: creates a space, or returns the existing one of the same scene.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces",
    operation_id = "AddSpace",
    tag = "spaces",
    params(UnionIdQuery),
    request_body = Option<AddSpaceRequest>,
    responses(
        (status = 200, description = "The space", body = SpaceResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn add_space(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::SpaceWrite>,
    WireJson(body): WireJson<AddSpaceRequest>,
) -> Result<Json<SpaceResponse>, ApiError> {
    let input = match body.option {
        None => NewSpace::default(),
        Some(o) => NewSpace {
            name: o.name,
            quota: o.quota,
            can_search: o.capabilities.map(|c| c.can_search),
            can_rename: o.capabilities.map(|c| c.can_rename),
            can_record_recent_file: o.capabilities.map(|c| c.can_record_recent_file),
            scene: o.scene,
            scene_id: o.scene_id,
            owner_type: o.owner_type,
        },
    };
    let view = state.drive.add_space(&op, input).await?;
    Ok(Json(SpaceResponse { space: view.into() }))
}

/// GetSpace.
#[utoipa::path(
    get,
    path = "/v1.0/storage/spaces/{spaceId}",
    operation_id = "GetSpace",
    tag = "spaces",
    params(("spaceId" = String, Path, description = "The space"), UnionIdQuery),
    responses(
        (status = 200, description = "The space", body = SpaceResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_space(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::SpaceRead>,
    Path(space_id): Path<String>,
) -> Result<Json<SpaceResponse>, ApiError> {
    let view = state.drive.get_space(&op, &space_id).await?;
    Ok(Json(SpaceResponse { space: view.into() }))
}
