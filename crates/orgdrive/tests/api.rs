//! End-to-end tests of the storage API over HTTP against the real server
//! (SQLite file + filesystem blobs in a temp dir).

mod common;

use common::*;
use serde_json::{json, Value};

fn spaces_path(t: &Tenant) -> String {
    format!("/v1.0/storage/spaces?unionId={}", t.union_id)
}

async fn add_space(s: &TestServer, t: &Tenant, body: &str) -> (u16, Value) {
    s.call("POST", &spaces_path(t), Some(&t.token), Some(body)).await
}

async fn get_space(s: &TestServer, t: &Tenant, id: &str) -> (u16, Value) {
    let path = format!("/v1.0/storage/spaces/{id}?unionId={}", t.union_id);
    s.call("GET", &path, Some(&t.token), None).await
}

#[tokio::test]
async fn add_space_applies_every_default() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;

    // The Python SDK sends no body at all when no field is set.
    let (status, reply) = s.call("POST", &spaces_path(&t), Some(&t.token), None).await;
    assert_eq!(status, 200, "{reply}");
    let space = &reply["space"];
    assert!(space["id"].as_str().unwrap().bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(space["corpId"], t.corp_id.as_str());
    assert_eq!(space["appId"], t.app_id.as_str());
    assert_eq!(space["creatorId"], t.union_id.as_str());
    assert_eq!(space["modifierId"], t.union_id.as_str());
    assert_eq!(space["ownerType"], "USER");
    assert_eq!(space["ownerId"], t.union_id.as_str());
    assert_eq!(space["scene"], "default");
    assert_eq!(space["sceneId"], "0");
    assert_eq!(space["status"], "NORMAL");
    assert_eq!(space["usedQuota"], 0);
    assert_eq!(
        space["capabilities"],
        json!({"canSearch": false, "canRename": false, "canRecordRecentFile": false})
    );
    assert!(space.get("name").is_none(), "no name by default: {space}");
    assert!(space.get("quota").is_none(), "unbounded space has no quota: {space}");
    assert_eq!(
        space["partitions"],
        json!([{"partitionType": "PUBLIC_OSS_PARTITION", "quota": {"used": 0, "type": "SHARE"}}])
    );
    let created = space["createTime"].as_str().unwrap();
    assert_eq!(created.len(), 20, "YYYY-MM-DDTHH:MM:SSZ: {created}");
    assert!(created.ends_with('Z'));
    assert_eq!(space["modifiedTime"], created);
    s.stop().await;
}

#[tokio::test]
async fn add_space_returns_every_field_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let body = json!({"option": {
        "name": "  Test space ", "quota": 1024,
        "capabilities": {"canSearch": true, "canRename": true, "canRecordRecentFile": true},
        "scene": "scene", "sceneId": "123", "ownerType": "APP"}});
    let (status, reply) = add_space(&s, &t, &body.to_string()).await;
    assert_eq!(status, 200, "{reply}");
    let space = &reply["space"];
    assert_eq!(space["name"], "Test space");
    assert_eq!(space["quota"], 1024);
    assert_eq!(space["ownerType"], "APP");
    assert_eq!(space["ownerId"], t.app_id.as_str());
    assert_eq!(space["scene"], "scene");
    assert_eq!(space["sceneId"], "123");
    assert_eq!(
        space["capabilities"],
        json!({"canSearch": true, "canRename": true, "canRecordRecentFile": true})
    );
    assert_eq!(
        space["partitions"][0]["quota"],
        json!({"used": 0, "max": 1024, "reserved": 1024, "type": "PRIVATE"})
    );

    let id = space["id"].as_str().unwrap();
    let (status, got) = get_space(&s, &t, id).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(&got["space"], space);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn add_space_is_idempotent_on_scene_and_scene_id_even_when_16_race() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let body = json!({"option": {"scene": "race", "sceneId": "7", "name": "first"}}).to_string();

    let calls = (0..16).map(|_| add_space(&s, &t, &body));
    let replies = futures::future::join_all(calls).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|(status, reply)| {
            assert_eq!(*status, 200, "{reply}");
            reply["space"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "16 identical AddSpace calls created {ids:?}");

    // A later call with other options still returns the first space unchanged.
    let again = json!({"option": {"scene": "race", "sceneId": "7", "name": "second", "quota": 5}});
    let (_, reply) = add_space(&s, &t, &again.to_string()).await;
    assert_eq!(reply["space"]["id"], ids.iter().next().unwrap().as_str());
    assert_eq!(reply["space"]["name"], "first");
    assert!(reply["space"].get("quota").is_none());

    // Another sceneId is another space; so is the same key for another app
    // of the same org (same user), which cannot see the first one.
    let (_, other) = add_space(&s, &t, r#"{"option":{"scene":"race","sceneId":"8"}}"#).await;
    assert_ne!(other["space"]["id"], reply["space"]["id"]);
    let (status, app2) = s
        .admin(
            "POST",
            &format!("/orgs/{}/apps", t.corp_id),
            Some(json!({"name": "Second", "scopes": *ALL_SCOPES})),
        )
        .await;
    assert_eq!(status, 200, "{app2}");
    let token2 =
        access_token(&s, app2["appKey"].as_str().unwrap(), app2["appSecret"].as_str().unwrap())
            .await;
    let second_app =
        Tenant { app_id: app2["appId"].as_str().unwrap().to_string(), token: token2, ..t };
    let (status, theirs) = add_space(&s, &second_app, &again.to_string()).await;
    assert_eq!(status, 200, "{theirs}");
    assert_ne!(theirs["space"]["id"], reply["space"]["id"], "idempotency is per app");
    assert_eq!(theirs["space"]["name"], "second");
    assert_eq!(theirs["space"]["quota"], 5);
    let (_, again_theirs) = add_space(&s, &second_app, &body).await;
    assert_eq!(again_theirs["space"]["id"], theirs["space"]["id"]);
    s.stop().await;
}

#[tokio::test]
async fn add_space_rejects_bad_input_naming_the_field_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, Some(10_000)).await;
    let long = "x".repeat(256);
    let cases: Vec<(String, &str)> = vec![
        (r#"{"option":"#.into(), "paramError"),
        ("[1]".into(), "paramError"),
        (r#"{"option":{"name":""}}"#.into(), "paramError.name"),
        (r#"{"option":{"name":"   "}}"#.into(), "paramError.name"),
        (r#"{"option":{"name":"a\u0001b"}}"#.into(), "paramError.name"),
        (format!(r#"{{"option":{{"name":"{long}"}}}}"#), "paramError.name"),
        (r#"{"option":{"name":5}}"#.into(), "paramError.name"),
        (r#"{"option":{"scene":"a-b"}}"#.into(), "paramError.scene"),
        (r#"{"option":{"scene":""}}"#.into(), "paramError.scene"),
        (format!(r#"{{"option":{{"scene":"{}"}}}}"#, "s".repeat(65)), "paramError.scene"),
        (r#"{"option":{"sceneId":"1 2"}}"#.into(), "paramError.sceneId"),
        (r#"{"option":{"sceneId":12}}"#.into(), "paramError.sceneId"),
        (r#"{"option":{"quota":-1}}"#.into(), "paramError.quota"),
        (r#"{"option":{"quota":0}}"#.into(), "paramError.quota"),
        (r#"{"option":{"quota":"1024"}}"#.into(), "paramError.quota"),
        (r#"{"option":{"quota":99999999999999999999}}"#.into(), "paramError.quota"),
        (r#"{"option":{"quota":10001}}"#.into(), "paramError.quota"),
        (r#"{"option":{"ownerType":"GROUP"}}"#.into(), "paramError.ownerType"),
        (r#"{"option":{"capabilities":{"canSearch":"yes"}}}"#.into(), "paramError.canSearch"),
        (r#"{"option":{"capabilities":7}}"#.into(), "paramError.capabilities"),
        (r#"{"option":3}"#.into(), "paramError.option"),
        (r#"{"option":{"capabilities":[]}}"#.into(), "paramError.capabilities"),
        (r#"{"option":[null]}"#.into(), "paramError.option"),
        ("[null]".into(), "paramError"),
    ];
    for (body, code) in &cases {
        let reply = add_space(&s, &t, body).await;
        assert_eq!(reply.1["code"], *code, "body {body:.80} -> {}", reply.1);
        assert_error(&reply, 400, code);
    }
    // Nothing was stored: the first valid call creates the one and only default space.
    let (status, reply) = add_space(&s, &t, r#"{"option":{"quota":10000}}"#).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["space"]["quota"], 10000);
    s.stop().await;
}

#[tokio::test]
async fn oversize_bodies_are_refused_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let body = format!(r#"{{"option":{{"name":"{}"}}}}"#, "n".repeat(2 * 1024 * 1024));
    let reply = add_space(&s, &t, &body).await;
    assert_error(&reply, 413, "paramError");
    s.stop().await;
}

#[tokio::test]
async fn tokens_scopes_and_operators_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let path = spaces_path(&t);

    assert_error(&s.call("POST", &path, None, Some("{}")).await, 400, "InvalidAuthentication");
    assert_error(
        &s.call("POST", &path, Some("forged"), Some("{}")).await,
        400,
        "InvalidAuthentication",
    );

    // Bad credentials and missing fields on the token endpoint.
    let bad = json!({"appKey": t.app_key, "appSecret": "wrong-secret-wrong"}).to_string();
    assert_error(
        &s.call("POST", "/v1.0/oauth2/accessToken", None, Some(&bad)).await,
        400,
        "InvalidAuthentication",
    );
    let missing = json!({"appKey": t.app_key}).to_string();
    assert_error(
        &s.call("POST", "/v1.0/oauth2/accessToken", None, Some(&missing)).await,
        400,
        "paramError.appSecret",
    );

    // Fetching again while the token is valid returns the same token.
    let second = access_token(&s, &t.app_key, &t.app_secret).await;
    assert_eq!(second, t.token);
    assert_eq!(s.call("POST", &path, Some(&t.token), Some("{}")).await.0, 200);

    // unionId: missing, unknown, or a user of another org.
    assert_error(
        &s.call("POST", "/v1.0/storage/spaces", Some(&t.token), Some("{}")).await,
        400,
        "paramError.unionId",
    );
    assert_error(
        &s.call("POST", "/v1.0/storage/spaces?unionId=nobody", Some(&t.token), Some("{}")).await,
        403,
        "permissionDenied",
    );
    let other = tenant(&s, &ALL_SCOPES, None).await;
    let foreign = format!("/v1.0/storage/spaces?unionId={}", other.union_id);
    assert_error(
        &s.call("POST", &foreign, Some(&t.token), Some("{}")).await,
        403,
        "permissionDenied",
    );

    // An app without the scope.
    let reader = tenant(&s, &["Storage.Space.Read"], None).await;
    let reply = s.call("POST", &spaces_path(&reader), Some(&reader.token), Some("{}")).await;
    assert_error(&reply, 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied");
    assert_eq!(reply.1["accessdenieddetail"]["requiredScopes"], json!(["Storage.Space.Write"]));
    s.stop().await;
}

#[tokio::test]
async fn get_space_org_and_current_app() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, Some(4096)).await;
    let (_, capped) = add_space(&s, &t, r#"{"option":{"quota":1000,"sceneId":"1"}}"#).await;
    let (_, shared) = add_space(&s, &t, r#"{"option":{"sceneId":"2"}}"#).await;
    // A space without its own cap is bounded by the org capacity.
    assert_eq!(shared["space"]["quota"], 4096);
    assert_eq!(shared["space"]["partitions"][0]["quota"], json!({"used": 0, "type": "SHARE"}));
    assert_eq!(capped["space"]["quota"], 1000);

    let q = format!("?unionId={}", t.union_id);
    let unknown =
        s.call("GET", &format!("/v1.0/storage/spaces/424242{q}"), Some(&t.token), None).await;
    assert_error(&unknown, 400, "paramError.spaceId");

    // Another org's app cannot see the space; another app of the same org
    // reaches it through the operator's roles (here: its owner's).
    let other = tenant(&s, &ALL_SCOPES, None).await;
    let id = capped["space"]["id"].as_str().unwrap();
    let foreign = s
        .call(
            "GET",
            &format!("/v1.0/storage/spaces/{id}?unionId={}", other.union_id),
            Some(&other.token),
            None,
        )
        .await;
    assert_error(&foreign, 400, "paramError.spaceId");
    let (_, app2) = s
        .admin(
            "POST",
            &format!("/orgs/{}/apps", t.corp_id),
            Some(json!({"name": "B", "scopes": *ALL_SCOPES})),
        )
        .await;
    let token2 =
        access_token(&s, app2["appKey"].as_str().unwrap(), app2["appSecret"].as_str().unwrap())
            .await;
    let (status, sibling) =
        s.call("GET", &format!("/v1.0/storage/spaces/{id}{q}"), Some(&token2), None).await;
    assert_eq!(status, 200, "{sibling}");
    assert_eq!(sibling["space"]["id"], json!(id));

    let (status, org) =
        s.call("GET", &format!("/v1.0/storage/orgs/{}{q}", t.corp_id), Some(&t.token), None).await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(
        org,
        json!({"org": {"corpId": t.corp_id, "partitions": [{"partitionType": "PUBLIC_OSS_PARTITION",
            "quota": {"used": 0, "max": 4096, "reserved": 4096, "type": "PRIVATE"}}]}})
    );
    let other_org = s
        .call("GET", &format!("/v1.0/storage/orgs/{}{q}", other.corp_id), Some(&t.token), None)
        .await;
    assert_error(&other_org, 403, "permissionDenied");

    let (status, app) =
        s.call("POST", &format!("/v1.0/storage/currentApps/query{q}"), Some(&t.token), None).await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["app"]["appId"], t.app_id.as_str());
    assert_eq!(app["app"]["corpId"], t.corp_id.as_str());
    assert_eq!(app["app"]["name"], "App");
    assert!(app["app"]["createTime"].as_str().unwrap().ends_with('Z'));
    assert!(app["app"]["modifiedTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        app["app"]["partitions"],
        json!([{"partitionType": "PUBLIC_OSS_PARTITION", "quota": {"used": 0, "type": "SHARE"}}])
    );
    s.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    assert_error(
        &s.call("GET", "/v1.0/storage/nothing", None, None).await,
        404,
        "resource.not.found",
    );
    assert_error(
        &s.call("DELETE", "/v1.0/storage/spaces", None, None).await,
        405,
        "methodNotAllowed",
    );
    let response = s.http.get(s.url("/nowhere")).send().await.unwrap();
    assert!(response.headers().get("x-acs-request-id").is_some());
    s.stop().await;
}

#[tokio::test]
async fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let (_, created) = add_space(&s, &t, r#"{"option":{"name":"kept","quota":77}}"#).await;
    s.stop().await;

    let s = TestServer::start(dir.path()).await;
    let id = created["space"]["id"].as_str().unwrap();
    // The token was stored (hashed) in the database, so it still works.
    let (status, got) = get_space(&s, &t, id).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got, created);
    // Idempotency holds across restarts: same (scene, sceneId), same space.
    let (_, again) = add_space(&s, &t, "{}").await;
    assert_eq!(again, created);
    s.stop().await;
}
