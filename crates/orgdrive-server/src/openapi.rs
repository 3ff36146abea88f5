//! The OpenAPI 3.1 document of the API orgdrive implements, served at
//! `GET /openapi.json` (no authentication). The document is generated, not
//! written: its operations are those of the routes it is given (an
//! `OpenApiRouter`, to which each handler of `api/` is added with its
//! `#[utoipa::path]` description), its schemas come from the wire types
//! (`wire`, which derive `utoipa::ToSchema` next to their serde attributes).
//! This module owns what is not an operation's: the document's info and
//! tags, the access-token security scheme, the shape of optional bodies, and
//! the route that serves it. It names no handler: the admin API (`/admin/v1`)
//! and the signed `/blob` routes are left out because they are never added
//! to the routes it is given (the former is orgdrive's own provisioning
//! plane, the latter are URLs handed out by the API, not operations of it).

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::extract::ACCESS_TOKEN_HEADER;
use crate::metrics::Operations;
use crate::wire::ErrorBody;

/// Name of the security scheme of the access-token header.
pub const ACCESS_TOKEN_SCHEME: &str = "accessToken";

/// What the document holds besides the operations of its routes.
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
    components(schemas(ErrorBody)),
    modifiers(&AccessTokenScheme),
    tags(
        (name = "oauth2", description = "Access tokens for app credentials"),
        (name = "spaces", description = "Spaces"),
        (name = "orgs", description = "Organization and app information"),
        (name = "dentries", description = "Files and folders"),
        (name = "transfer", description = "Uploads and downloads (signed URLs)"),
        (name = "recycle", description = "The recycle bin"),
        (name = "permissions", description = "Grants of roles on dentries"),
        (name = "tasks", description = "Asynchronous tasks"),
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
/// (the body stays optional). Applied once the operations are in.
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

/// `routes` as a plain router, with `GET /openapi.json` serving their
/// document (rendered once, here); each operation named in `operations`
/// by its operation id.
pub fn serve_document<S>(routes: OpenApiRouter<S>, operations: &mut Operations) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let (routes, mut document) =
        OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes).split_for_parts();
    OptionalBodies.modify(&mut document);
    for (path, item) in &document.paths.paths {
        let methods = [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::DELETE, &item.delete),
        ];
        for (method, operation) in methods {
            if let Some(id) = operation.as_ref().and_then(|o| o.operation_id.as_deref()) {
                operations.add(path, Some(method), id);
            }
        }
    }
    operations.add("/openapi.json", Some(Method::GET), "OpenApiDocument");
    let json = Bytes::from(document.to_pretty_json().expect("the OpenAPI document serializes"));
    routes.route(
        "/openapi.json",
        get(move || {
            let json = json.clone();
            async move { ([(CONTENT_TYPE, "application/json")], json) }
        }),
    )
}
