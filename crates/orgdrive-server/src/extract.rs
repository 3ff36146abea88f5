//! Request extractors: JSON bodies with field-naming errors ([`WireJson`]), the
//! calling operator with its required scope ([`Caller`]), the caller's app
//! alone ([`CallerApp`]) and the admin bearer token ([`AdminAuth`]).

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use orgdrive_core::{Operator, Scope};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::ServerState;

/// Header carrying the DingTalk access token.
pub const ACCESS_TOKEN_HEADER: &str = "x-acs-dingtalk-access-token";

/// Path parameters; one that cannot be read (e.g. invalid UTF-8 after
/// percent-decoding) is 400 `paramError` with the usual JSON body.
pub struct WirePath<T>(pub T);

impl<T, S> FromRequestParts<S> for WirePath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::param(None, "a path parameter cannot be read"))?;
        for (name, text) in &raw {
            // `raw` holds percent-decoded values: `%00` is a NUL here.
            if text.contains('\0') {
                return Err(nul_refused(name));
            }
        }
        Ok(WirePath(value))
    }
}

/// A JSON request body. An absent body reads as `{}`; syntax errors
/// are `paramError`, type errors `paramError.<field>` for the innermost field.
pub struct WireJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for WireJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await?;
        parse_json(&bytes).map(WireJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // No body at all reads as `{}` (the SDKs send none when no field is set).
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { bytes };
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::param(None, format!("malformed JSON body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::param(None, "the request body must be a JSON object"));
    }
    check_arrays(&value, None)?;
    check_no_nul(&value, None)?;
    serde_path_to_error::deserialize(value).map_err(json_error)
}

/// No text of a request may hold U+0000: no identifier, name or value of
/// the API has one, and a database may refuse to store it (PostgreSQL
/// text), so it is refused here, for every backend alike, naming the field.
fn check_no_nul(value: &serde_json::Value, key: Option<&str>) -> Result<(), ApiError> {
    match value {
        serde_json::Value::String(text) if text.contains('\0') => {
            Err(nul_refused(key.unwrap_or_default()))
        }
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            if k.contains('\0') {
                return Err(nul_refused(""));
            }
            check_no_nul(v, Some(k.as_str()))
        }),
        serde_json::Value::Array(items) => {
            items.iter().try_for_each(|item| check_no_nul(item, key))
        }
        _ => Ok(()),
    }
}

/// 400 `paramError.<field>` for a NUL character in `field` (`paramError`
/// when the name is not one: it is client text).
fn nul_refused(field: &str) -> ApiError {
    let named = Some(field)
        .filter(|f| !f.is_empty() && f.len() <= 64 && f.bytes().all(|b| b.is_ascii_alphanumeric()));
    ApiError::param(named, "a NUL character is not allowed")
}

/// Fields whose value is a JSON array in some request of the API. A new
/// request type with a list field adds its name here.
const LIST_FIELDS: &[&str] = &[
    "dentryIds",
    "partNumbers",
    "appProperties",
    "appIdsForAppProperties",
    "scopes",
    "recycleItemIds",
    "propertyNames",
    "members",
    "filterRoleIds",
    "subscriptions",
    "openInfos",
];

/// serde reads a struct from a JSON array too; the API never does. An array
/// is accepted only as the value of a list field, and never as a list element.
fn check_arrays(value: &serde_json::Value, key: Option<&str>) -> Result<(), ApiError> {
    match value {
        serde_json::Value::Object(map) => {
            map.iter().try_for_each(|(k, v)| check_arrays(v, Some(k.as_str())))
        }
        serde_json::Value::Array(items) => {
            let field = key.unwrap_or_default();
            if !LIST_FIELDS.contains(&field) || items.iter().any(|i| i.is_array()) {
                // Name the field only if it looks like one: the key is client text.
                let named = Some(field).filter(|f| {
                    !f.is_empty() && f.len() <= 64 && f.bytes().all(|b| b.is_ascii_alphanumeric())
                });
                return Err(ApiError::param(named, "an array is not allowed here"));
            }
            items.iter().try_for_each(|item| check_arrays(item, None))
        }
        _ => Ok(()),
    }
}

fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let text = inner.to_string();
    // serde reports a missing field against its parent: take the name from the message.
    if let Some(rest) = text.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return ApiError::param(Some(field), format!("{field} is required"));
    }
    let field = path
        .rsplit('.')
        .find(|segment| !segment.is_empty() && !segment.starts_with('[') && *segment != "?");
    let field = field.map(|f| f.split('[').next().unwrap_or(f));
    match field {
        Some(field) => ApiError::param(Some(field), format!("{path}: {text}")),
        None => ApiError::param(None, format!("request body: {text}")),
    }
}

/// The first value of query parameter `name`.
fn query_param(parts: &Parts, name: &str) -> Option<String> {
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Query parameters with DingTalk-style typed access: a value that does not
/// parse is `paramError.<name>`.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.text(name)
            .map(|v| {
                v.trim().parse().map_err(|_| {
                    ApiError::param(Some(name), format!("{name} must be an integer, not {v:?}"))
                })
            })
            .transpose()
    }

    /// Booleans in any case (the Python SDK sends `True` / `False`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.text(name)
            .map(|v| match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::param(Some(name), format!("{name} must be true or false"))),
            })
            .transpose()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let params: Vec<(String, String)> =
            form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        if let Some((name, _)) = params.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(nul_refused(name));
        }
        Ok(QueryParams(params))
    }
}

/// The URL clients reach this server at, for signed blob URLs: the configured
/// public URL, else `http://` + the request's `Host`.
pub struct BaseUrl(pub String);

impl FromRequestParts<ServerState> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ServerState) -> Result<Self, ApiError> {
        if let Some(url) = &state.public_url {
            return Ok(BaseUrl(url.clone()));
        }
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && !h.contains(['/', ' ']))
            .ok_or_else(|| ApiError::param(None, "the Host header is required"))?;
        Ok(BaseUrl(format!("http://{host}")))
    }
}

/// The scope an operation requires, as a type: `Caller<scope::SpaceWrite>`.
pub trait RequiredScope {
    const SCOPE: Option<Scope>;
}

/// Marker types naming the scopes of reference §1.
pub mod scope {
    use super::{RequiredScope, Scope};

    macro_rules! scopes {
        ($($name:ident),*) => {$(
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Option<Scope> = Some(Scope::$name);
            }
        )*};
    }
    scopes!(
        SpaceWrite,
        SpaceRead,
        OrgRead,
        FileWrite,
        FileRead,
        UploadInfoRead,
        DownloadInfoRead,
        PermissionWrite,
        PermissionRead,
        RecycleBinRead,
        RecycleBinWrite,
        TaskRead,
        EventWrite
    );

    /// Any valid token will do (e.g. GetCurrentApp: an app reading its own record).
    pub struct AnyScope;
    impl RequiredScope for AnyScope {
        const SCOPE: Option<Scope> = None;
    }
}

/// The operator of a storage call: a valid token (else `InvalidAuthentication`)
/// whose app holds scope `S` (else `Forbidden.AccessDenied...`), acting for the
/// `unionId` query parameter (else `paramError.unionId` / `permissionDenied`).
pub struct Caller<S>(pub Operator, pub PhantomData<S>);

impl<S: RequiredScope> FromRequestParts<ServerState> for Caller<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ServerState) -> Result<Self, ApiError> {
        let token = parts.headers.get(ACCESS_TOKEN_HEADER).and_then(|v| v.to_str().ok());
        let union_id = query_param(parts, "unionId");
        if union_id.as_deref().is_some_and(|u| u.contains('\0')) {
            return Err(nul_refused("unionId"));
        }
        let operator = state.drive.operator(token, S::SCOPE, union_id.as_deref()).await?;
        Ok(Caller(operator, PhantomData))
    }
}

/// Requests to the admin API: `Authorization: Bearer <admin token>`.
pub struct AdminAuth;

/// The digest of the bearer token a request presents.
fn bearer_digest(parts: &Parts) -> Option<[u8; 32]> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|token| <[u8; 32]>::from(Sha256::digest(token.trim())))
}

impl FromRequestParts<ServerState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ServerState) -> Result<Self, ApiError> {
        if bearer_digest(parts).as_ref() == Some(&*state.admin_token_sha256) {
            Ok(AdminAuth)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthentication",
                "admin API needs Authorization: Bearer <admin token>",
            ))
        }
    }
}

/// Requests to `/metrics`: `Authorization: Bearer <admin token>`, or the
/// metrics token when one is set.
pub struct MetricsAuth;

impl FromRequestParts<ServerState> for MetricsAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ServerState) -> Result<Self, ApiError> {
        let presented = bearer_digest(parts);
        let metrics_token = state.metrics_token_sha256.as_deref();
        if presented.is_some()
            && (presented.as_ref() == Some(&*state.admin_token_sha256)
                || presented.as_ref() == metrics_token)
        {
            Ok(MetricsAuth)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthentication",
                "metrics need Authorization: Bearer <metrics token or admin token>",
            ))
        }
    }
}

/// The client's address, when the listener recorded it (`serve` does).
pub(crate) struct PeerAddr(pub(crate) Option<std::net::SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let connected = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(PeerAddr(connected.map(|axum::extract::ConnectInfo(a)| *a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{
        DeleteDentryAppPropertiesRequest, DeleteRecycleItemsRequest, MoveDentriesRequest,
        MoveDentryRequest, NoFields, RestoreRecycleItemRequest, RestoreRecycleItemsRequest,
        UpdateDentryAppPropertiesRequest,
    };
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        option: Option<Opt>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Opt {
        quota: Option<i64>,
        scene_id: Option<String>,
        required: Option<Req>,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Req {
        name: String,
    }

    fn code(body: &str) -> String {
        parse_json::<Body>(body.as_bytes()).unwrap_err().code
    }

    #[test]
    fn a_nul_anywhere_in_a_body_is_refused_naming_its_field() {
        assert_eq!(code(r#"{"name": "a\u0000b"}"#), "paramError.name");
        assert_eq!(
            code(r#"{"option": {"appProperties": [{"value": "\u0000"}]}}"#),
            "paramError.value"
        );
        assert_eq!(code(r#"{"dentryIds": ["1", "x\u0000"]}"#), "paramError.dentryIds");
        assert_eq!(code(r#"{"a\u0000": 1}"#), "paramError");
        assert!(parse_json::<Body>(br#"{"option": {"conflictStrategy": "\u0001"}}"#).is_ok());
    }

    #[test]
    fn empty_body_reads_as_empty_object() {
        assert!(parse_json::<Body>(b"").unwrap().option.is_none());
        assert_eq!(code("\r"), "paramError", "whitespace is not a JSON value");
    }

    #[test]
    fn errors_name_the_innermost_field() {
        assert_eq!(code(r#"{"option":{"quota":"big"}}"#), "paramError.quota");
        assert_eq!(code(r#"{"option":{"quota":1.5}}"#), "paramError.quota");
        assert_eq!(code(r#"{"option":{"sceneId":7}}"#), "paramError.sceneId");
        assert_eq!(code(r#"{"option":{"required":{}}}"#), "paramError.name");
        assert_eq!(code(r#"{"option":"#), "paramError");
        assert_eq!(code(r#"[1,2]"#), "paramError");
        assert_eq!(code(r#"[null]"#), "paramError");
        assert_eq!(code(r#"{"option":[null]}"#), "paramError.option");
        assert_eq!(code(r#"{"option":{"required":[]}}"#), "paramError.required");
        assert_eq!(code(r#"{".x y":[1]}"#), "paramError");
        assert_eq!(code(r#"{"":[]}"#), "paramError");
        assert_eq!(code(r#"{} trailing"#), "paramError");
    }

    #[test]
    fn move_option_reads_both_spellings() {
        let body: MoveDentryRequest = parse_json(
            br#"{"targetSpaceId":"2","targetFolderId":"0","option":{"presevePermissions":true}}"#,
        )
        .unwrap();
        assert_eq!(body.option.unwrap().preseve_permissions, Some(true));
        let body: MoveDentriesRequest =
            parse_json(br#"{"dentryIds":["1"],"option":{"preservePermissions":false}}"#).unwrap();
        assert_eq!(body.option.unwrap().preserve_permissions, Some(false));
        let err = parse_json::<MoveDentryRequest>(br#"{"option":{"presevePermissions":"yes"}}"#);
        assert_eq!(err.err().unwrap().code, "paramError.presevePermissions");
    }

    #[test]
    fn bodiless_posts_take_nothing_or_an_object() {
        for body in [&b""[..], b"{}", br#"{"x":1}"#] {
            assert!(parse_json::<NoFields>(body).is_ok());
        }
        for body in [&b"[]"[..], b"null", b"1", b"{"] {
            assert_eq!(parse_json::<NoFields>(body).err().unwrap().code, "paramError");
        }
    }

    #[test]
    fn lifecycle_lists_are_read() {
        let body: RestoreRecycleItemRequest = parse_json(b"").unwrap();
        assert!(body.option.is_none());
        let body: RestoreRecycleItemsRequest = parse_json(
            br#"{"recycleItemIds":["1","2"],"option":{"conflictStrategy":"OVERWRITE"}}"#,
        )
        .unwrap();
        assert_eq!(body.recycle_item_ids.unwrap(), ["1", "2"]);
        let body: DeleteRecycleItemsRequest = parse_json(br#"{"recycleItemIds":["1"]}"#).unwrap();
        assert_eq!(body.recycle_item_ids.unwrap(), ["1"]);
        let body: DeleteDentryAppPropertiesRequest =
            parse_json(br#"{"propertyNames":["a","b"]}"#).unwrap();
        assert_eq!(body.property_names.unwrap(), ["a", "b"]);
        let body: UpdateDentryAppPropertiesRequest =
            parse_json(br#"{"appProperties":[{"name":"a","value":"b"}]}"#).unwrap();
        assert_eq!(body.app_properties.unwrap()[0].visibility, None);
    }
}
