//! The OpenAPI 3.1 document of the API orgdrive implements, served at
//! `GET /openapi.json` (no authentication). The document is generated, not
//! written: request and response bodies come from the wire types (`wire`,
//! which derive `utoipa::ToSchema` next to their serde attributes), operations
//! from the `#[utoipa::path]` annotations on the handlers in `api/` (oauth2,
//! spaces, orgs, dentries, transfer), their shared query parameters, error
//! responses and string vocabularies from `wire` as well. This
//! module owns the assembly: the list of operations and the access-token
//! security scheme. The admin API
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
use utoipa::{Modify, OpenApi};

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
