//! `GET /openapi.json`: the generated OpenAPI 3.1 document lists exactly the
//! implemented operations (README status table) with their methods, and every
//! path in it is a real route of the server.

mod common;

use common::*;
use serde_json::Value;

/// (method, path, operationId) of every implemented operation.
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("post", "/v1.0/oauth2/accessToken", "GetAccessToken"),
    ("post", "/v1.0/storage/spaces", "AddSpace"),
    ("get", "/v1.0/storage/spaces/{spaceId}", "GetSpace"),
    ("get", "/v1.0/storage/orgs/{corpId}", "GetOrg"),
    ("post", "/v1.0/storage/currentApps/query", "GetCurrentApp"),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/{parentId}/folders", "AddFolder"),
    ("get", "/v1.0/storage/spaces/{spaceId}/dentries", "ListDentries"),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/listAll", "ListAllDentries"),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/query", "GetDentry"),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/query", "GetDentries"),
    ("post", "/v1.0/storage/spaces/{spaceId}/files/uploadInfos/query", "GetFileUploadInfo"),
    ("post", "/v1.0/storage/spaces/{spaceId}/files/commit", "CommitFile"),
    (
        "post",
        "/v1.0/storage/spaces/{spaceId}/files/multiPartUploadInfos/init",
        "InitMultipartFileUpload",
    ),
    (
        "post",
        "/v1.0/storage/spaces/files/multiPartUploadInfos/query",
        "GetMultipartFileUploadInfos",
    ),
    (
        "post",
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/downloadInfos/query",
        "GetFileDownloadInfo",
    ),
    (
        "post",
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/openInfos/query",
        "GetDentryOpenInfo",
    ),
    (
        "post",
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/openInfos/register",
        "RegisterOpenInfo",
    ),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/rename", "RenameDentry"),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/move", "MoveDentry"),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/batchMove", "MoveDentries"),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/copy", "CopyDentry"),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/batchCopy", "CopyDentries"),
    ("delete", "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}", "DeleteDentry"),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/batchRemove", "DeleteDentries"),
    ("get", "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/versions", "ListDentryVersions"),
    (
        "post",
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/versions/{version}/revert",
        "RevertDentryVersion",
    ),
    (
        "put",
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/appProperties",
        "UpdateDentryAppProperties",
    ),
    (
        "post",
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/appProperties/remove",
        "DeleteDentryAppProperties",
    ),
    ("post", "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/permissions", "AddPermission"),
    ("put", "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/permissions", "UpdatePermission"),
    (
        "post",
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/permissions/remove",
        "DeletePermission",
    ),
    (
        "post",
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/permissions/query",
        "ListPermissions",
    ),
    (
        "post",
        "/v1.0/storage/spaces/{spaceId}/dentries/permissions/roles/batchQuery",
        "BatchQueryRoles",
    ),
    ("post", "/v1.0/storage/spaces/{spaceId}/thumbnails/query", "GetDentryThumbnails"),
    ("get", "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/webOfficeUrls", "GetWebOfficeUrl"),
    (
        "get",
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/refreshWebOfficeToken",
        "RefreshWebOfficeToken",
    ),
    ("get", "/v1.0/storage/tasks/{taskId}", "GetTask"),
    ("post", "/v1.0/storage/events/subscribe", "SubscribeEvent"),
    ("post", "/v1.0/storage/events/unsubscribe", "UnsubscribeEvent"),
    ("post", "/v1.0/gateway/connections/open", "OpenStreamConnection"),
    ("get", "/v1.0/storage/recycleBins", "GetRecycleBin"),
    ("get", "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems", "ListRecycleItems"),
    (
        "get",
        "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/{recycleItemId}",
        "GetRecycleItem",
    ),
    (
        "post",
        "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/{recycleItemId}/restore",
        "RestoreRecycleItem",
    ),
    (
        "post",
        "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/batchRestore",
        "RestoreRecycleItems",
    ),
    (
        "delete",
        "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/{recycleItemId}",
        "DeleteRecycleItem",
    ),
    (
        "post",
        "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/batchRemove",
        "DeleteRecycleItems",
    ),
    ("post", "/v1.0/storage/recycleBins/{recycleBinId}/clear", "ClearRecycleBin"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn fetch_document(s: &TestServer) -> Value {
    // No token, no admin token: the document is public.
    let response = s.http.get(s.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    response.json().await.unwrap()
}

/// The operations of the document as (method, path, operationId).
fn operations(doc: &Value) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                found.push((method.clone(), path.clone(), id));
            }
        }
    }
    found.sort();
    found
}

fn parameter<'a>(op: &'a Value, name: &str, location: &str) -> Option<&'a Value> {
    op["parameters"].as_array()?.iter().find(|p| p["name"] == name && p["in"] == location)
}

/// Resolves `#/components/schemas/X` references, failing on dangling ones.
fn check_refs(doc: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let pointer = target.strip_prefix('#').expect("local reference");
                assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
            }
            map.values().for_each(|v| check_refs(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}

#[tokio::test]
async fn document_lists_every_implemented_operation() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let doc = fetch_document(&s).await;

    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "orgdrive");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let mut expected: Vec<(String, String, String)> = OPERATIONS
        .iter()
        .map(|(m, p, id)| (m.to_string(), p.to_string(), id.to_string()))
        .collect();
    expected.sort();
    // Exactly these: the admin API, the signed /blob routes and the preview pages are not part of it.
    assert_eq!(operations(&doc), expected);

    let scheme = &doc["components"]["securitySchemes"]["accessToken"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "header");
    assert_eq!(scheme["name"], "x-acs-dingtalk-access-token");

    let error = &doc["components"]["schemas"]["ErrorBody"];
    let mut required: Vec<&str> =
        error["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    required.sort();
    assert_eq!(required, ["code", "message", "requestid"]);

    for (method, path, id) in OPERATIONS {
        let op = &doc["paths"][path][method];
        let responses = &op["responses"];
        assert!(responses["200"]["content"]["application/json"]["schema"].is_object(), "{id}");
        let error_ref = "#/components/schemas/ErrorBody";
        assert_eq!(responses["400"]["content"]["application/json"]["schema"]["$ref"], error_ref);
        // Path parameters are declared with their wire names.
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(|c| c == '{' || c == '}');
            let param = parameter(op, name, "path").unwrap_or_else(|| panic!("{id}: {name}"));
            assert_eq!(param["required"], true, "{id}: {name}");
        }
        if *id == "GetAccessToken" || *id == "OpenStreamConnection" {
            assert!(op.get("security").is_none(), "{id} takes app credentials, no token");
            assert!(op["requestBody"]["content"]["application/json"].is_object());
            continue;
        }
        assert_eq!(responses["403"]["content"]["application/json"]["schema"]["$ref"], error_ref);
        assert_eq!(op["security"][0]["accessToken"], serde_json::json!([]), "{id}");
        let union_id = parameter(op, "unionId", "query").unwrap_or_else(|| panic!("{id}"));
        assert_eq!(union_id["required"], true, "{id}");
        if *method == "post" && *id != "GetCurrentApp" {
            assert!(op["requestBody"]["content"]["application/json"]["schema"].is_object(), "{id}");
        }
    }

    let list = &doc["paths"]["/v1.0/storage/spaces/{spaceId}/dentries"]["get"];
    assert_eq!(parameter(list, "parentId", "query").unwrap()["required"], true);
    for name in ["maxResults", "nextToken", "order", "orderBy", "withThumbnail"] {
        let param = parameter(list, name, "query").unwrap_or_else(|| panic!("{name}"));
        assert_eq!(param["required"], false, "{name}");
    }
    assert_eq!(parameter(list, "maxResults", "query").unwrap()["schema"]["type"], "integer");
    assert_eq!(parameter(list, "withThumbnail", "query").unwrap()["schema"]["type"], "boolean");

    // DeleteDentry: no body, `toRecycleBin` an optional boolean query parameter.
    let delete = &doc["paths"]["/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}"]["delete"];
    assert!(delete.get("requestBody").is_none());
    let to_bin = parameter(delete, "toRecycleBin", "query").unwrap();
    assert_eq!(
        (&to_bin["required"], &to_bin["schema"]["type"]),
        (&Value::Bool(false), &"boolean".into())
    );
    // POSTs the SDK sends without a body: the body is optional.
    for path in [
        "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/versions/{version}/revert",
        "/v1.0/storage/recycleBins/{recycleBinId}/clear",
    ] {
        assert_ne!(doc["paths"][path]["post"]["requestBody"]["required"], true, "{path}");
    }
    // MoveDentry's option takes the SDK's misspelled key and the right one.
    let schemas = &doc["components"]["schemas"];
    let move_option = &schemas["MoveOption"]["properties"];
    assert!(
        move_option["presevePermissions"].is_object()
            && move_option["preservePermissions"].is_object()
    );
    // Batch items: `success` and `errorCode` may be absent (items running as tasks).
    for item in ["RelocateResultItem", "DeleteResultItem", "RestoreResultItem"] {
        let required: Vec<&str> = schemas[item]["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{item}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(required.contains(&"async"), "{item}");
        assert!(!required.contains(&"success") && !required.contains(&"errorCode"), "{item}");
    }

    check_refs(&doc, &doc);
    s.stop().await;
}

#[tokio::test]
async fn every_documented_path_is_a_route() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let doc = fetch_document(&s).await;

    for (method, path, id) in operations(&doc) {
        let concrete = path
            .replace("{spaceId}", "1")
            .replace("{corpId}", &t.corp_id)
            .replace("{dentryId}", "0")
            .replace("{parentId}", "0")
            .replace("{version}", "1")
            .replace("{taskId}", "1")
            .replace("{recycleBinId}", "1")
            .replace("{recycleItemId}", "1");
        let url = format!("{concrete}?unionId={}", t.union_id);
        let body = (method == "post").then_some("{}");
        let (status, reply) = s.call(&method.to_uppercase(), &url, Some(&t.token), body).await;
        // Answered by the operation (success or a DingTalk error), not by the fallbacks.
        assert!(status != 404 && status != 405, "{id}: {status} {reply}");
        assert!(status < 500, "{id}: {status} {reply}");
    }
    s.stop().await;
}
