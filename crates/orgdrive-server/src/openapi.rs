//! The OpenAPI 3.1 document of the API orgdrive implements, served at
//! `GET /openapi.json` (no authentication). The document is generated, not
//! written: request and response bodies come from the wire types (`wire`,
//! which derive `utoipa::ToSchema` next to their serde attributes), operations
//! from the `#[utoipa::path]` annotations on the handlers in `api/` (oauth2,
//! spaces, orgs, dentries, transfer). This module owns the assembly: the list
//! of operations, the access-token security scheme, the shared `unionId` query
//! parameter and error responses, and the string vocabularies that the wire
//! types keep as plain strings (the domain validates them). The admin API
//! (`/admin/v1`) and the signed `/blob` routes are deliberately left out: the
//! former is orgdrive's own provisioning plane, the latter are URLs handed out
//! by the API, not operations of it.

use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

use crate::extract::ACCESS_TOKEN_HEADER;
use crate::wire::ErrorBody;
use crate::ServerState;

/// Name of the security scheme of the access-token header.
pub const ACCESS_TOKEN_SCHEME: &str = "accessToken";

/// The document: every implemented operation of DingTalk Storage v1.0 plus
/// GetAccessToken.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "orgdrive",
        version = env!("CARGO_PKG_VERSION"),
        description = "The DingTalk Storage Open API v1.0 (and GetAccessToken) as implemented by \
                       orgdrive. Storage operations need the `x-acs-dingtalk-access-token` header \
                       and the `unionId` query parameter.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        crate::api::oauth2::get_access_token,
        crate::api::spaces::add_space,
        crate::api::spaces::get_space,
        crate::api::orgs::get_org,
        crate::api::orgs::get_current_app,
        crate::api::dentries::add_folder,
        crate::api::dentries::list_dentries,
        crate::api::dentries::list_all_dentries,
        crate::api::dentries::get_dentry,
        crate::api::dentries::get_dentries,
        crate::api::transfer::get_upload_info,
        crate::api::transfer::commit_file,
        crate::api::transfer::init_multipart,
        crate::api::transfer::multipart_infos,
        crate::api::transfer::download_info,
    ),
    components(schemas(ErrorBody)),
    modifiers(&AccessTokenScheme, &OptionalBodies),
    tags(
        (name = "oauth2", description = "Access tokens for app credentials"),
        (name = "spaces", description = "Spaces"),
        (name = "orgs", description = "Organization and app information"),
        (name = "dentries", description = "Files and folders"),
        (name = "transfer", description = "Uploads and downloads (signed URLs)"),
    ),
)]
pub struct ApiDoc;

/// Registers the `x-acs-dingtalk-access-token` header as an apiKey scheme.
struct AccessTokenScheme;

impl Modify for AccessTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ACCESS_TOKEN_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                ACCESS_TOKEN_HEADER,
                "An access token from GetAccessToken (`POST /v1.0/oauth2/accessToken`).",
            ))),
        );
    }
}

/// Optional request bodies (`request_body = Option<T>`): an absent or empty
/// body reads as `{}`, but a `null` body is refused like any other
/// non-object, so the nullable wrapper utoipa puts around `T` is dropped
/// (the body stays optional).
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let Some(body) = operation.request_body.as_mut() else { continue };
                for content in body.content.values_mut() {
                    let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else { continue };
                    let mut rest = one_of.items.iter().filter(|s| !is_null(s));
                    if let (Some(only), None) = (rest.next(), rest.next()) {
                        if one_of.items.len() == 2 {
                            content.schema = Some(only.clone());
                        }
                    }
                }
            }
        }
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
}

/// The document as JSON, rendered once.
pub fn document() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes")
    });
    &JSON
}

/// `GET /openapi.json`.
pub fn routes() -> Router<ServerState> {
    Router::new().route(
        "/openapi.json",
        get(|| async { ([(CONTENT_TYPE, "application/json")], document()).into_response() }),
    )
}

// ---- shared parameters and responses ------------------------------------------

/// The `unionId` query parameter of every storage operation.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct UnionIdQuery {
    /// The user the app acts for: a user of the token's organization
    /// (`paramError.unionId` when missing, `permissionDenied` when not of the
    /// organization).
    pub union_id: String,
}

/// The query of ListDentries (handlers read queries through `QueryParams`;
/// this type only describes it).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListDentriesQuery {
    /// The user the app acts for (see the other operations).
    pub union_id: String,
    /// The folder to list; `0` is the root.
    #[param(example = "0")]
    pub parent_id: String,
    /// Page size: default 50, larger values are clamped to 50.
    #[param(minimum = 1, nullable = false)]
    pub max_results: Option<i64>,
    /// The `nextToken` of the previous page of the same listing.
    #[param(nullable = false)]
    pub next_token: Option<String>,
    /// Default `DESC`.
    #[param(inline, nullable = false)]
    pub order: Option<SortOrder>,
    /// Default `MODIFIED_TIME`; ties are broken by id.
    #[param(inline, nullable = false)]
    pub order_by: Option<OrderBy>,
    /// Accepted (in any case); no thumbnails are generated yet.
    #[param(nullable = false)]
    pub with_thumbnail: Option<bool>,
}

/// The errors every storage operation may answer.
#[derive(IntoResponses)]
pub enum StorageErrors {
    /// `paramError` (malformed JSON), `paramError.<field>` (a field of the
    /// wrong type or out of range, an unknown id, `unionId` missing) or
    /// `InvalidAuthentication` (access token missing, unknown or expired).
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `Forbidden.AccessDenied.AccessTokenPermissionDenied` (the app lacks the
    /// operation's scope) or `permissionDenied` (`unionId` is not a user of
    /// the token's organization; a space of another app).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `paramError`: a JSON body over 1 MiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `systemError`: a fault on the server's side (generic message; the
    /// details are in the server log under the request id).
    #[response(status = 500)]
    Internal(ErrorBody),
    /// `operationTimeout`: the request was not complete within the server's
    /// request deadline (e.g. its body arrived too slowly).
    #[response(status = 503)]
    Timeout(ErrorBody),
}

/// What opening an upload may answer besides [`StorageErrors`].
#[derive(IntoResponses)]
pub enum UploadLimitErrors {
    /// `tooManyUploads`: the space or app has as many open uploads as allowed.
    #[response(status = 429)]
    TooManyUploads(ErrorBody),
}

// ---- string vocabularies -------------------------------------------------------
// The wire types keep these as strings (the domain validates them and names
// the field in its error); these enums only give the document their values.

/// `ownerType` of AddSpace (accepted in any case; default `USER`).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OwnerType {
    User,
    App,
}

/// `conflictStrategy` of AddFolder and CommitFile (default `AUTO_RENAME`).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConflictStrategy {
    AutoRename,
    Overwrite,
    ReturnDentryIfExists,
    ReturnErrorIfExists,
}

/// `visibility` of an app property (default `PRIVATE`).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Visibility {
    Public,
    Private,
}

/// `protocol` of GetFileUploadInfo (required).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protocol {
    HeaderSignature,
}

/// `storageDriver` of uploads (default `DINGTALK`).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageDriver {
    Dingtalk,
}

/// `order` of listings (accepted in any case).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// `orderBy` of ListDentries (accepted in any case).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderBy {
    ModifiedTime,
    CreateTime,
    Name,
    Size,
}
