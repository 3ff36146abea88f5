//! The admin API: guarded by the admin token, JSON in and out, create / list /
//! delete for orgs, apps, users, departments and members.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn admin_api_needs_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    for auth in [None, Some("Bearer wrong"), Some("Basic dGVzdA==")] {
        let mut request = s.http.get(s.url("/admin/v1/orgs"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "InvalidAuthentication");
    }
    s.stop().await;
}

#[tokio::test]
async fn provisioning_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;

    let (status, org) =
        s.admin("POST", "/orgs", Some(json!({"name": "Acme", "capacity": 1000}))).await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["capacity"], 1000);
    let corp = org["corpId"].as_str().unwrap().to_string();
    assert_eq!(s.admin("GET", &format!("/orgs/{corp}"), None).await.1, org);

    // Apps: chosen credentials work for tokens; duplicates and unknown scopes are refused.
    let app_body = json!({"name": "CI", "scopes": ["Storage.Space.Read"], "appKey": "ci-app",
                          "appSecret": "a-long-enough-secret"});
    let (status, app) =
        s.admin("POST", &format!("/orgs/{corp}/apps"), Some(app_body.clone())).await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["appKey"], "ci-app");
    assert_eq!(app["appSecret"], "a-long-enough-secret");
    assert_eq!(app["scopes"], json!(["Storage.Space.Read"]));
    assert!(app["appId"].as_str().unwrap().bytes().all(|b| b.is_ascii_digit()));
    access_token(&s, "ci-app", "a-long-enough-secret").await;
    let dup = s.admin("POST", &format!("/orgs/{corp}/apps"), Some(app_body)).await;
    assert_eq!((dup.0, dup.1["code"].as_str()), (409, Some("conflict.appKey")));
    let bad_scope = s
        .admin(
            "POST",
            &format!("/orgs/{corp}/apps"),
            Some(json!({"name": "x", "scopes": ["Storage.All"]})),
        )
        .await;
    assert_eq!((bad_scope.0, bad_scope.1["code"].as_str()), (400, Some("paramError.scopes")));
    let short = s
        .admin(
            "POST",
            &format!("/orgs/{corp}/apps"),
            Some(json!({"name": "x", "appSecret": "short"})),
        )
        .await;
    assert_eq!(short.1["code"], "paramError.appSecret");
    let (_, apps) = s.admin("GET", &format!("/orgs/{corp}/apps"), None).await;
    assert_eq!(apps["items"].as_array().unwrap().len(), 1);
    assert!(apps["items"][0].get("appSecret").is_none(), "secrets are never listed");

    // Users.
    let (status, user) = s
        .admin(
            "POST",
            &format!("/orgs/{corp}/users"),
            Some(json!({"name": "Ann", "orgAdmin": true, "unionId": "ann-union", "userId": "ann"})),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        (user["unionId"].as_str(), user["userId"].as_str(), user["orgAdmin"].as_bool()),
        (Some("ann-union"), Some("ann"), Some(true))
    );
    let (_, bob) =
        s.admin("POST", &format!("/orgs/{corp}/users"), Some(json!({"name": "Bob"}))).await;
    assert_eq!(bob["orgAdmin"], false);
    let dup_user = s
        .admin("POST", &format!("/orgs/{corp}/users"), Some(json!({"name": "A2", "userId": "ann"})))
        .await;
    assert_eq!((dup_user.0, dup_user.1["code"].as_str()), (409, Some("conflict.userId")));
    let missing_name = s.admin("POST", &format!("/orgs/{corp}/users"), Some(json!({}))).await;
    assert_eq!((missing_name.0, missing_name.1["code"].as_str()), (400, Some("paramError.name")));

    // Departments form a tree; members belong to the org.
    let (_, root) =
        s.admin("POST", &format!("/orgs/{corp}/depts"), Some(json!({"name": "R&D"}))).await;
    let root_id = root["deptId"].as_str().unwrap().to_string();
    let (status, child) = s
        .admin(
            "POST",
            &format!("/orgs/{corp}/depts"),
            Some(json!({"name": "Storage", "parentId": root_id})),
        )
        .await;
    assert_eq!(status, 200, "{child}");
    assert_eq!(child["parentId"], root_id.as_str());
    let orphan = s
        .admin(
            "POST",
            &format!("/orgs/{corp}/depts"),
            Some(json!({"name": "X", "parentId": "999"})),
        )
        .await;
    assert_eq!(orphan.1["code"], "paramError.parentId");
    let members = format!("/orgs/{corp}/depts/{root_id}/members");
    assert_eq!(s.admin("POST", &members, Some(json!({"unionId": "ann-union"}))).await.0, 200);
    let stranger = s.admin("POST", &members, Some(json!({"unionId": "nobody"}))).await;
    assert_eq!(stranger.1["code"], "paramError.unionId");
    let (_, listed) = s.admin("GET", &members, None).await;
    assert_eq!(listed["items"][0]["unionId"], "ann-union");
    let blocked = s.admin("DELETE", &format!("/orgs/{corp}/depts/{root_id}"), None).await;
    assert_eq!((blocked.0, blocked.1["code"].as_str()), (409, Some("conflict")), "{}", blocked.1);
    assert_eq!(s.admin("DELETE", &format!("{members}/ann-union"), None).await.0, 200);
    assert_eq!(s.admin("GET", &members, None).await.1["items"], json!([]));

    // Deleting a user drops their memberships; unknown ids are 400 naming the id.
    let (_, u) = s.admin("DELETE", &format!("/orgs/{corp}/users/ann-union"), None).await;
    assert_eq!(u, json!({"success": true}));
    let again = s.admin("DELETE", &format!("/orgs/{corp}/users/ann-union"), None).await;
    assert_eq!(again.1["code"], "paramError.unionId");

    // An org that owns spaces cannot be deleted; one without can.
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let path = format!("/v1.0/storage/spaces?unionId={}", t.union_id);
    assert_eq!(s.call("POST", &path, Some(&t.token), Some("{}")).await.0, 200);
    let busy = s.admin("DELETE", &format!("/orgs/{}", t.corp_id), None).await;
    assert_eq!((busy.0, busy.1["code"].as_str()), (409, Some("conflict")), "{}", busy.1);
    let busy_app = s.admin("DELETE", &format!("/orgs/{}/apps/{}", t.corp_id, t.app_id), None).await;
    assert_eq!(busy_app.0, 409);
    assert_eq!(s.admin("DELETE", &format!("/orgs/{corp}"), None).await.0, 200);
    let gone = s.admin("GET", &format!("/orgs/{corp}"), None).await;
    assert_eq!((gone.0, gone.1["code"].as_str()), (400, Some("paramError.corpId")));
    let (_, orgs) = s.admin("GET", "/orgs", None).await;
    assert_eq!(orgs["items"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn deleting_an_app_revokes_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let q = format!("/v1.0/storage/currentApps/query?unionId={}", t.union_id);
    assert_eq!(s.call("POST", &q, Some(&t.token), None).await.0, 200);
    assert_eq!(
        s.admin("DELETE", &format!("/orgs/{}/apps/{}", t.corp_id, t.app_id), None).await.0,
        200
    );
    assert_error(&s.call("POST", &q, Some(&t.token), None).await, 400, "InvalidAuthentication");
    s.stop().await;
}

#[tokio::test]
async fn rotating_an_apps_secret_ends_its_tokens_and_the_old_secret() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let q = format!("/v1.0/storage/currentApps/query?unionId={}", t.union_id);
    assert_eq!(s.call("POST", &q, Some(&t.token), None).await.0, 200);
    let path = format!("/orgs/{}/apps/{}/secret", t.corp_id, t.app_id);
    let (status, rotated) = s.admin("POST", &path, None).await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["appKey"], t.app_key.as_str());
    let secret = rotated["appSecret"].as_str().expect("the new secret, once").to_string();
    assert_ne!(secret, t.app_secret);
    assert_error(&s.call("POST", &q, Some(&t.token), None).await, 400, "InvalidAuthentication");
    let token = |secret: String| {
        let s = &s;
        let key = t.app_key.clone();
        async move {
            let body = json!({"appKey": key, "appSecret": secret});
            s.call("POST", "/v1.0/oauth2/accessToken", None, Some(&body.to_string())).await
        }
    };
    assert_ne!(token(t.app_secret.clone()).await.0, 200, "the old secret is refused");
    let (status, reply) = token(secret).await;
    assert_eq!(status, 200, "{reply}");
    let fresh = reply["accessToken"].as_str().unwrap();
    assert_eq!(s.call("POST", &q, Some(fresh), None).await.0, 200);
    let (_, apps) = s.admin("GET", &format!("/orgs/{}/apps", t.corp_id), None).await;
    assert!(apps["items"][0].get("appSecret").is_none(), "shown once: {apps}");
    let unknown = format!("/orgs/{}/apps/nope/secret", t.corp_id);
    let (status, refused) = s.admin("POST", &unknown, None).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("paramError.appId")), "{refused}");
    s.stop().await;
}
