//! 64-way races against the real server: the invariants hold because the
//! database enforces them, not because requests happen to arrive in turn.

mod common;

use std::collections::HashSet;

use common::*;
use futures::future::join_all;
use serde_json::json;

const RACERS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_add_space_calls_make_one_space() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let path = format!("/v1.0/storage/spaces?unionId={}", t.union_id);
    let body = r#"{"option":{"scene":"race","sceneId":"64"}}"#;
    let replies =
        join_all((0..RACERS).map(|_| s.call("POST", &path, Some(&t.token), Some(body)))).await;
    let ids: HashSet<String> = replies
        .iter()
        .map(|(status, reply)| {
            assert_eq!(*status, 200, "{reply}");
            reply["space"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_name_folders_have_one_winner_or_distinct_names() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let strict = json!({"name": "Race", "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"}});
    let replies =
        join_all((0..RACERS).map(|_| sp.post("/dentries/0/folders", strict.clone()))).await;
    let winners = replies.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(winners, 1);
    for (status, reply) in replies.iter().filter(|(status, _)| *status != 200) {
        assert_eq!((*status, reply["code"].as_str()), (400, Some("paramError.name")), "{reply}");
    }

    let renaming = json!({"name": "Race", "option": {"conflictStrategy": "AUTO_RENAME"}});
    let replies =
        join_all((0..RACERS).map(|_| sp.post("/dentries/0/folders", renaming.clone()))).await;
    let names: HashSet<String> = replies
        .iter()
        .map(|(status, reply)| {
            assert_eq!(*status, 200, "{reply}");
            reply["dentry"]["name"].as_str().unwrap().to_string()
        })
        .collect();
    let expected: HashSet<String> = (1..=RACERS).map(|k| format!("Race({k})")).collect();
    assert_eq!(names, expected, "Race(1)..Race(64), no duplicates, no gaps");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_and_commits_never_pass_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, Some(10_000)).await;
    let mut tickets = Vec::new();
    for _ in 0..RACERS {
        tickets.push(sp.upload_url().await);
    }
    // Pending bytes are reserved when a PUT starts: of 64 racing PUTs of
    // 1000 bytes, exactly the ten that fit are accepted.
    let http = &s.http;
    let puts = join_all(tickets.iter().map(|(_, url)| async move {
        let response = http.put(url.as_str()).body(vec![7u8; 1000]).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().await.ok())
    }))
    .await;
    let accepted: Vec<&String> = tickets
        .iter()
        .zip(&puts)
        .filter(|(_, (status, _))| *status == 200)
        .map(|((key, _), _)| key)
        .collect();
    assert_eq!(accepted.len(), 10, "exactly the ten PUTs that fit");
    for (status, reply) in puts.iter().filter(|(status, _)| *status != 200) {
        let code = reply.as_ref().and_then(|r| r["code"].as_str());
        assert_eq!((*status, code), (413, Some("paramError.size")), "{reply:?}");
    }
    assert_eq!(reserved_bytes(&s, &sp.id).await, 10_000);
    let commits = accepted.iter().enumerate().map(|(i, key)| {
        sp.post(
            "/files/commit",
            json!({"uploadKey": key, "name": format!("f{i}"), "parentId": "0"}),
        )
    });
    for (status, reply) in join_all(commits).await {
        assert_eq!(status, 200, "{reply}");
    }
    let path = format!("/v1.0/storage/spaces/{}?unionId={}", sp.id, sp.t.union_id);
    let (_, space) = s.call("GET", &path, Some(&sp.t.token), None).await;
    assert_eq!(space["space"]["usedQuota"], 10_000);
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0, "commits release what they reserved");
    s.stop().await;
}
