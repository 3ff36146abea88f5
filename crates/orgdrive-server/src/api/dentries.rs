//! Files and folders: AddFolder, GetDentry, GetDentries, ListDentries and
//! ListAllDentries.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use orgdrive_core::{
    DriveError, DriveResult, ListAll, ListChildren, NewFolder, Page, PropertyFilter,
};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, Caller, QueryParams, WireJson, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{
    property_inputs, AddFolderRequest, Dentry, DentryPage, DentryResponse, DentryResultItem,
    GetDentriesRequest, GetDentriesResponse, GetDentryRequest, ListAllDentriesRequest,
    ListDentriesQuery, ReadOption, StorageErrors, UnionIdQuery,
};

/// AddFolder, GetDentry, GetDentries, ListDentries and ListAllDentries, each
/// at the path and method its description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(add_folder))
        .routes(utoipa_axum::routes!(get_dentry))
        .routes(utoipa_axum::routes!(get_dentries))
        .routes(utoipa_axum::routes!(list_dentries))
        .routes(utoipa_axum::routes!(list_all_dentries))
}

type Reply<T> = Result<Json<T>, ApiError>;

/// A JSON answer already encoded (by [`encode`]): what the reply cache of
/// GetDentry and ListDentries keeps and hands back.
struct EncodedJson(Bytes);

impl IntoResponse for EncodedJson {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

/// The bytes `axum::Json` would send for `value`.
fn encode(value: &impl Serialize) -> DriveResult<Bytes> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| DriveError::Internal(format!("encoding an answer: {e}")))
}

fn filter(option: Option<ReadOption>) -> PropertyFilter {
    PropertyFilter {
        app_ids: option.and_then(|o| o.app_ids_for_app_properties).unwrap_or_default(),
    }
}

fn page(page: Page) -> DentryPage {
    DentryPage {
        dentries: page.dentries.into_iter().map(Dentry::from).collect(),
        next_token: page.next_token,
    }
}

/// AddFolder: creates a folder under `parentId` (name conflicts per
/// `option.conflictStrategy`).
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{parentId}/folders",
    operation_id = "AddFolder",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("parentId" = String, Path, description = "The parent folder; `0` is the root",
            example = "0"),
        UnionIdQuery,
    ),
    request_body = AddFolderRequest,
    responses(
        (status = 200, description = "The folder", body = DentryResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn add_folder(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path((space_id, parent_id)): Path<(String, String)>,
    WireJson(body): WireJson<AddFolderRequest>,
) -> Reply<DentryResponse> {
    let option = body.option;
    let input = NewFolder {
        name: body.name,
        conflict_strategy: option.as_ref().and_then(|o| o.conflict_strategy.clone()),
        app_properties: property_inputs(option.and_then(|o| o.app_properties)),
    };
    let view = state.drive.add_folder(&op, &space_id, &parent_id, input).await?;
    Ok(Json(DentryResponse { dentry: view.into() }))
}

/// GetDentry: one file or folder.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/query",
    operation_id = "GetDentry",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file or folder; `0` is the root",
            example = "0"),
        UnionIdQuery,
    ),
    request_body = Option<GetDentryRequest>,
    responses(
        (status = 200, description = "The file or folder", body = DentryResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_dentry(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileRead>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<GetDentryRequest>,
) -> Result<EncodedJson, ApiError> {
    let filter = filter(body.option);
    let to_wire = |view| encode(&DentryResponse { dentry: Dentry::from(view) });
    let body = state.drive.get_dentry_encoded(&op, &space_id, &dentry_id, &filter, to_wire).await?;
    Ok(EncodedJson(body))
}

/// GetDentries: 1–30 files or folders, one result item per id in request order.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/query",
    operation_id = "GetDentries",
    tag = "dentries",
    params(("spaceId" = String, Path, description = "The space"), UnionIdQuery),
    request_body = GetDentriesRequest,
    responses(
        (status = 200, description = "One item per requested id", body = GetDentriesResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_dentries(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileRead>,
    Path(space_id): Path<String>,
    WireJson(body): WireJson<GetDentriesRequest>,
) -> Reply<GetDentriesResponse> {
    let ids = body.dentry_ids.unwrap_or_default();
    let results = state.drive.get_dentries(&op, &space_id, &ids, &filter(body.option)).await?;
    let result_items = results
        .into_iter()
        .map(|item| match item.result {
            Ok(view) => DentryResultItem {
                space_id: space_id.clone(),
                dentry_id: item.dentry_id,
                success: true,
                error_code: None,
                dentry: Some(view.into()),
            },
            Err(e) => DentryResultItem {
                space_id: space_id.clone(),
                dentry_id: item.dentry_id,
                success: false,
                error_code: Some(ApiError::from(e).code),
                dentry: None,
            },
        })
        .collect();
    Ok(Json(GetDentriesResponse { result_items }))
}

/// ListDentries: one page of a folder's children.
#[utoipa::path(
    get,
    path = "/v1.0/storage/spaces/{spaceId}/dentries",
    operation_id = "ListDentries",
    tag = "dentries",
    params(("spaceId" = String, Path, description = "The space"), ListDentriesQuery),
    responses(
        (status = 200, description = "A page of children", body = DentryPage),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn list_dentries(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileRead>,
    Path(space_id): Path<String>,
    query: QueryParams,
) -> Result<EncodedJson, ApiError> {
    query.boolean("withThumbnail")?;
    let input = ListChildren {
        parent_id: query.text("parentId"),
        max_results: query.integer("maxResults")?,
        next_token: query.text("nextToken").filter(|t| !t.is_empty()),
        order: query.text("order"),
        order_by: query.text("orderBy"),
    };
    let to_wire = |listed| encode(&page(listed));
    Ok(EncodedJson(state.drive.list_dentries_encoded(&op, &space_id, input, to_wire).await?))
}

/// ListAllDentries: one page of every file and folder of the space.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/listAll",
    operation_id = "ListAllDentries",
    tag = "dentries",
    params(("spaceId" = String, Path, description = "The space"), UnionIdQuery),
    request_body = Option<ListAllDentriesRequest>,
    responses(
        (status = 200, description = "A page of the space's files and folders", body = DentryPage),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn list_all_dentries(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileRead>,
    Path(space_id): Path<String>,
    WireJson(body): WireJson<ListAllDentriesRequest>,
) -> Reply<DentryPage> {
    let input = match body.option {
        None => ListAll::default(),
        Some(o) => ListAll {
            max_results: o.max_results,
            next_token: o.next_token.filter(|t| !t.is_empty()),
            order: o.order,
        },
    };
    Ok(Json(page(state.drive.list_all_dentries(&op, &space_id, input).await?)))
}
