//! What operators scrape and probe: `/metrics` (the admin token; requests
//! by operation and status, latency, file bytes, cache figures), `/healthz`
//! and `/readyz`.

mod common;

use common::*;
use serde_json::json;

/// The value of the sample `name{labels}` in an OpenMetrics text, if any.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        (key == name_and_labels).then(|| value.parse().unwrap())
    })
}

async fn scrape(s: &TestServer) -> String {
    let response = s.http.get(s.url("/metrics")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

#[tokio::test]
async fn metrics_count_requests_by_operation_and_status_with_latency_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, None).await;
    let file = space.upload("a.txt", b"hello metrics").await;
    assert_eq!(space.download(file["id"].as_str().unwrap()).await, b"hello metrics");
    // One past a whole read: its download streams (counted chunk by chunk).
    let big: &'static [u8] = Box::leak(vec![7u8; (1 << 20) + 1].into_boxed_slice());
    let big_file = space.upload("big.bin", big).await;
    assert_eq!(space.download(big_file["id"].as_str().unwrap()).await.len(), big.len());
    let moved = 13.0 + big.len() as f64;
    let get_space = format!("/v1.0/storage/spaces/{}?unionId={}", space.id, space.t.union_id);
    for _ in 0..3 {
        assert_eq!(s.call("GET", &get_space, Some(&space.t.token), None).await.0, 200);
    }
    // A refused one: no token.
    let refused = s.call("GET", &get_space, None, None).await.0;
    assert!((400..500).contains(&refused));
    // No route.
    assert_eq!(s.http.get(s.url("/nowhere")).send().await.unwrap().status(), 404);

    let text = scrape(&s).await;
    let requests = |operation: &str, status: u16| {
        sample(
            &text,
            &format!(
                "orgdrive_http_requests_total{{operation=\"{operation}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests("GetSpace", 200), Some(3.0), "{text}");
    assert_eq!(requests("GetSpace", refused), Some(1.0));
    assert_eq!(requests("AddSpace", 200), Some(1.0));
    assert_eq!(requests("GetFileUploadInfo", 200), Some(2.0));
    assert_eq!(requests("CommitFile", 200), Some(2.0));
    assert_eq!(requests("PutBlob", 200), Some(2.0));
    assert_eq!(requests("GetBlob", 200), Some(2.0));
    assert_eq!(requests("unknown", 404), Some(1.0));
    // Every GetSpace was timed.
    let count = "orgdrive_http_request_duration_seconds_count{operation=\"GetSpace\"}";
    assert_eq!(sample(&text, count), Some(4.0));
    let inf = "orgdrive_http_request_duration_seconds_bucket{le=\"+Inf\",operation=\"GetSpace\"}";
    assert_eq!(sample(&text, inf), Some(4.0), "{text}");
    // File bytes, both ways.
    let bytes = |direction: &str| {
        sample(&text, &format!("orgdrive_file_bytes_total{{direction=\"{direction}\"}}"))
    };
    assert_eq!(bytes("in"), Some(moved));
    assert_eq!(bytes("out"), Some(moved));
    // The store's figures: bytes held, tasks, group commits, its size.
    assert_eq!(sample(&text, "orgdrive_stored_bytes"), Some(moved));
    assert_eq!(sample(&text, "orgdrive_reserved_bytes"), Some(0.0));
    assert_eq!(sample(&text, "orgdrive_tasks_unfinished"), Some(0.0));
    assert_eq!(sample(&text, "orgdrive_event_backlog"), Some(0.0));
    assert!(sample(&text, "orgdrive_metadata_bytes").unwrap() > 0.0);
    let commits = sample(&text, "orgdrive_group_commits_total").unwrap();
    let writes = sample(&text, "orgdrive_group_commit_writes_total").unwrap();
    assert!(commits >= 1.0 && writes >= commits, "{commits} commits, {writes} writes");
    // A filesystem store is never asked again.
    assert_eq!(sample(&text, "orgdrive_content_store_retries_total"), Some(0.0));
    // The space was read through its cache at least once.
    let hits = sample(&text, "orgdrive_cache_hits_total{cache=\"spaces\"}").unwrap();
    let misses = sample(&text, "orgdrive_cache_misses_total{cache=\"spaces\"}").unwrap();
    assert!(hits >= 1.0 && misses >= 1.0, "spaces cache: {hits} hits, {misses} misses");
    assert!(sample(&text, "orgdrive_cache_hits_total{cache=\"callers\"}").unwrap() >= 3.0);
    // Every metric the Grafana dashboard in the repository queries is one
    // that a scrape shows.
    let dashboard = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ops/grafana/orgdrive.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dashboard).unwrap()).unwrap();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (at, _) in expr.match_indices("orgdrive_") {
                let name: String = expr[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                let shown = text.lines().any(|l| {
                    l.strip_prefix(name.as_str()).is_some_and(|r| r.starts_with(['{', ' ']))
                });
                assert!(shown, "the dashboard queries {name}, which no scrape shows");
                queried += 1;
            }
        }
    }
    assert!(queried >= 10, "{queried}");
    // A scrape counts itself in the next one.
    let again = scrape(&s).await;
    let scrapes = "orgdrive_http_requests_total{operation=\"Metrics\",status=\"200\"}";
    assert_eq!(sample(&again, scrapes), Some(1.0));
    s.stop().await;
}

#[tokio::test]
async fn metrics_need_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    for auth in [None, Some("Bearer wrong")] {
        let mut request = s.http.get(s.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let reply = error_reply(request.send().await.unwrap()).await;
        assert_error(&reply, 401, "InvalidAuthentication");
    }
    // The metrics token reads them, and nothing else.
    let scraped = s.http.get(s.url("/metrics")).bearer_auth(METRICS_TOKEN).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    let admin = s.http.get(s.url("/admin/v1/orgs")).bearer_auth(METRICS_TOKEN).send().await;
    assert_error(&error_reply(admin.unwrap()).await, 401, "InvalidAuthentication");
    // A storage access token is no admin token either.
    let t = tenant(&s, &["Storage.Space.Read"], None).await;
    let reply =
        error_reply(s.http.get(s.url("/metrics")).bearer_auth(&t.token).send().await.unwrap())
            .await;
    assert_error(&reply, 401, "InvalidAuthentication");
    s.stop().await;
}

#[tokio::test]
async fn health_and_readiness_answer_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let health = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-acs-request-id"));
    assert_eq!(health.json::<serde_json::Value>().await.unwrap(), json!({"status": "ok"}));
    let ready = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap(), json!({"status": "ready"}));
    // Other methods are refused like on any route.
    let post = s.http.post(s.url("/healthz")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    s.stop().await;
}

/// A WebDAV step the domain answers busy (here: the metadata store gone)
/// is a 503 that says when to try again, as in the API, not the 500 that
/// dav-server answers any failure of its file system with.
#[tokio::test]
async fn webdav_answers_unavailable_when_the_metadata_store_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, None).await;
    let dav = |method: &str, path: &str| {
        s.http
            .request(method.parse().unwrap(), s.url(&format!("/dav/{}/{path}", space.id)))
            .basic_auth(&space.t.union_id, Some(&space.t.token))
    };
    // Known before the store goes: the caller (its token) and the space.
    let listed = dav("PROPFIND", "").header("depth", "1").send().await.unwrap();
    assert_eq!(listed.status(), 207);
    assert_eq!(dav("MKCOL", "before").send().await.unwrap().status(), 201);
    s.close_store().await;
    let made = dav("MKCOL", "after").send().await.unwrap();
    assert_eq!(made.status(), 503);
    assert_eq!(made.headers()["retry-after"], "1");
    // A MOVE (its source's look-up fails), and a LOCK, whose check runs
    // before dav-server (it answered 403 for a look-up that failed).
    let destination = s.url(&format!("/dav/{}/moved", space.id));
    let moved = dav("MOVE", "before").header("destination", destination).send().await.unwrap();
    assert_eq!(moved.status(), 503);
    let locked = dav("LOCK", "before")
        .header("content-type", "application/xml")
        .body(r#"<?xml version="1.0"?><lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope><locktype><write/></locktype></lockinfo>"#)
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 503);
    // The API answers alike: a closed store (its node stopping) did nothing.
    let (status, reply) = space.post("/dentries/0/folders", json!({"name": "after"})).await;
    assert_error(&(status, reply), 503, "serviceUnavailable");
    s.stop().await;
}

#[tokio::test]
async fn readiness_fails_once_the_metadata_store_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let probe = || async { s.http.get(s.url("/readyz")).send().await.unwrap() };
    let checked = std::time::Instant::now();
    assert_eq!(probe().await.status(), 200);
    s.close_store().await;
    // A check's answer is reused for a second (probes cannot multiply the
    // requests to the stores), then the next check finds the store gone.
    let reused = probe().await.status();
    if checked.elapsed() < std::time::Duration::from_millis(900) {
        assert_eq!(reused, 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let unready = probe().await;
    // A 503 asks a balancer or a client to wait a moment before it asks again.
    assert_eq!(unready.headers()["retry-after"], "1");
    let reply = error_reply(unready).await;
    assert_error(&reply, 503, "serviceUnavailable");
    // Liveness is not readiness: the process still answers.
    assert_eq!(s.http.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    s.stop().await;
}
