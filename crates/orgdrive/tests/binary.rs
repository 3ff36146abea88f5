//! The `orgdrive` binary: first-start banner and demo account, the admin
//! token file, graceful shutdown on SIGTERM, restart, `--ephemeral`, and the
//! `orgdrive admin` subcommands.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_orgdrive");

struct Running {
    child: Child,
    lines: Vec<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        Running::start_with(args, &[], Stdio::null())
    }

    /// Starts with these environment variables, its log going to `stderr`.
    fn start_with(args: &[&str], envs: &[(&str, &str)], stderr: Stdio) -> Running {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("ORGDRIVE_ADMIN_TOKEN")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut lines = Vec::new();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        loop {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).unwrap() > 0, "server exited early: {lines:?}");
            let done = line.starts_with("ready in");
            lines.push(line.trim_end().to_string());
            if done {
                break;
            }
        }
        Running { child, lines }
    }

    fn value(&self, key: &str) -> Option<String> {
        self.lines.iter().find_map(|l| {
            l.trim_start()
                .strip_prefix(key)
                .map(|rest| rest.trim_start_matches(':').trim().to_string())
        })
    }

    fn base(&self) -> String {
        let first = &self.lines[0];
        first[first.find("http://").unwrap()..].to_string()
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap()
    }
}

/// A test that fails midway leaves no server behind.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn admin(data_dir: &Path, args: &[&str]) -> Value {
    let out =
        Command::new(BIN).arg("admin").arg("--data-dir").arg(data_dir).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn first_start_seeds_a_demo_account_that_works_and_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Running::start(&["--data-dir", data.to_str().unwrap()]);
    let corp_id = server.value("corpId").unwrap();
    let app_key = server.value("appKey").unwrap();
    let app_secret = server.value("appSecret").unwrap();
    let union_id = server.value("unionId").unwrap();
    let admin_token = server.value("admin token:").unwrap();
    assert_eq!(
        server.value("admin token file").unwrap(),
        data.join("admin.token").display().to_string()
    );
    assert!(data.join("meta.sqlite").exists() && data.join("blobs").is_dir());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(data.join("admin.token")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(std::fs::read_to_string(data.join("admin.token")).unwrap().trim(), admin_token);

    let http = reqwest::Client::new();
    let base = server.base();
    let token: Value = json(
        http.post(format!("{base}/v1.0/oauth2/accessToken"))
            .json(&json!({"appKey": app_key, "appSecret": app_secret})),
    )
    .await;
    let token = token["accessToken"].as_str().unwrap().to_string();
    let space: Value = json(
        http.post(format!("{base}/v1.0/storage/spaces?unionId={union_id}"))
            .header("x-acs-dingtalk-access-token", &token)
            .json(&json!({"option": {"name": "demo"}})),
    )
    .await;
    assert_eq!(space["space"]["corpId"], corp_id.as_str());
    let orgs: Value =
        json(http.get(format!("{base}/admin/v1/orgs")).bearer_auth(&admin_token)).await;
    assert_eq!(orgs["items"][0]["corpId"], corp_id.as_str());

    assert!(server.terminate().success(), "SIGTERM must end the server cleanly");

    // Restart: no new demo account, same admin token, the space is still there.
    let server = Running::start(&["--data-dir", data.to_str().unwrap()]);
    assert!(server.value("appSecret").is_none());
    assert!(server.value("admin token:").is_none(), "a stored admin token is not printed again");
    assert!(!server.lines.iter().any(|l| l.contains(&admin_token)), "{:?}", server.lines);
    let base = server.base();
    let again: Value = http
        .get(format!(
            "{base}/v1.0/storage/spaces/{}?unionId={union_id}",
            space["space"]["id"].as_str().unwrap()
        ))
        .header("x-acs-dingtalk-access-token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, space);
    assert!(server.terminate().success());
}

#[tokio::test]
async fn ephemeral_data_is_thrown_away_and_admin_token_can_be_given() {
    let given = "given-admin-token-0123456789-abcdefghij";
    let server = Running::start(&["--ephemeral", "--admin-token", given]);
    assert!(server.value("admin token:").is_none(), "a given token is not printed");
    let http = reqwest::Client::new();
    let orgs = http.get(format!("{}/admin/v1/orgs", server.base())).bearer_auth(given);
    assert_eq!(orgs.send().await.unwrap().status(), 200);
    let dir_line = server.lines.iter().find(|l| l.starts_with("data dir:")).unwrap().clone();
    let path = dir_line
        .trim_start_matches("data dir:")
        .trim()
        .trim_end_matches("(ephemeral)")
        .trim()
        .to_string();
    assert!(Path::new(&path).join("meta.sqlite").exists());
    assert!(server.terminate().success());
    assert!(!Path::new(&path).exists(), "ephemeral dir {path} must be removed on exit");
}

#[tokio::test]
async fn admin_subcommands_provision_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let org = admin(dir.path(), &["org", "create", "--name", "Acme", "--capacity", "1048576"]);
    let corp = org["corpId"].as_str().unwrap();
    assert_eq!(org["capacity"], 1048576);
    let app = admin(
        dir.path(),
        &[
            "app",
            "create",
            "--corp-id",
            corp,
            "--name",
            "CI",
            "--all-scopes",
            "--app-key",
            "ci",
            "--app-secret",
            "0123456789abcdef",
        ],
    );
    assert_eq!(app["appKey"], "ci");
    assert_eq!(app["scopes"].as_array().unwrap().len(), 13);
    let user = admin(
        dir.path(),
        &["user", "create", "--corp-id", corp, "--name", "Ann", "--org-admin", "--union-id", "ann"],
    );
    assert_eq!(user["orgAdmin"], true);
    let dept = admin(dir.path(), &["dept", "create", "--corp-id", corp, "--name", "R&D"]);
    let dept_id = dept["deptId"].as_str().unwrap();
    admin(dir.path(), &["member", "add", "--corp-id", corp, "--dept-id", dept_id, "ann"]);
    let members = admin(dir.path(), &["member", "list", "--corp-id", corp, "--dept-id", dept_id]);
    assert_eq!(members["items"][0]["unionId"], "ann");
    assert_eq!(admin(dir.path(), &["org", "list"])["items"].as_array().unwrap().len(), 1);

    // A server started on that dir accepts the provisioned credentials and seeds nothing.
    let server = Running::start(&["--data-dir", dir.path().to_str().unwrap()]);
    assert!(server.value("appKey").is_none());
    let token: Value = reqwest::Client::new()
        .post(format!("{}/v1.0/oauth2/accessToken", server.base()))
        .json(&json!({"appKey": "ci", "appSecret": "0123456789abcdef"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["accessToken"].as_str().map(str::len), Some(32), "{token}");
    let space: Value = reqwest::Client::new()
        .post(format!("{}/v1.0/storage/spaces?unionId=ann", server.base()))
        .header("x-acs-dingtalk-access-token", token["accessToken"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(space["space"]["corpId"], corp, "{space}");
    assert!(server.terminate().success());

    let failed = Command::new(BIN)
        .args(["admin", "--data-dir", dir.path().to_str().unwrap(), "org", "delete", "nope"])
        .output()
        .unwrap();
    assert!(!failed.status.success());
}

/// Runs `orgdrive serve` expecting it to refuse to start; returns its stderr.
fn refused_start(args: &[&str], envs: &[(&str, &str)]) -> String {
    refused_start_in(tempfile::tempdir().unwrap().path(), args, envs)
}

/// The same, on a data dir the test prepared.
fn refused_start_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = Command::new(BIN)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()])
        .args(args)
        .env_remove("ORGDRIVE_ADMIN_TOKEN")
        .env_remove("ORGDRIVE_SIGNING_KEY")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    assert!(!out.status.success(), "started with {args:?} {envs:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ready in"));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn short_or_blank_secrets_refuse_to_start() {
    for args in [
        &["--signing-key", " "][..],
        &["--signing-key", ""],
        &["--signing-key", "0123456789abcdef0123456789abcde"], // 31 bytes
        &["--admin-token", " "],
        &["--admin-token", "x"],
        &["--metrics-token", "hunter2-too-short"],
    ] {
        let stderr = refused_start(args, &[]);
        assert!(stderr.contains("at least 32"), "{args:?}: {stderr}");
    }
    for envs in [&[("ORGDRIVE_SIGNING_KEY", " ")][..], &[("ORGDRIVE_ADMIN_TOKEN", "short")]] {
        let stderr = refused_start(&[], envs);
        assert!(stderr.contains("at least 32"), "{envs:?}: {stderr}");
    }
    // The metrics token may not be the admin token (it would read more).
    let same = "the-same-token-of-at-least-32-bytes-long";
    let stderr = refused_start(&["--admin-token", same, "--metrics-token", same], &[]);
    assert!(stderr.contains("must differ"), "{stderr}");
    assert!(!stderr.contains(same), "{stderr}");
    // A stored secret that is too short is refused too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("signing.key"), "tiny\n").unwrap();
    assert!(refused_start_in(dir.path(), &[], &[]).contains("at least 32"));
}

#[test]
fn a_bad_blob_store_refuses_to_start_without_repeating_secrets() {
    // Credentials never go in the URL; a refusal does not repeat the value.
    for blob in [
        "s3://bucket?secret_access_key=hunter2secret",
        "s3://AKIA:hunter2secret@bucket",
        "s3://bucket?endpoint=hunter2secret",
        "ftp://hunter2secret",
    ] {
        let stderr = refused_start(&["--blob", blob], &[]);
        assert!(stderr.contains("--blob"), "{blob}: {stderr}");
        assert!(!stderr.contains("hunter2secret"), "{blob}: {stderr}");
    }
    // Missing credentials are named, not shown.
    let blob = "s3://bucket?endpoint=http://127.0.0.1:9";
    let stderr = refused_start(
        &["--blob", blob],
        &[("AWS_ACCESS_KEY_ID", "AKIDhunter2"), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    assert!(stderr.contains("AWS_SECRET_ACCESS_KEY"), "{stderr}");
    assert!(!stderr.contains("AKIDhunter2"), "{stderr}");
    // Credentials given, nothing answers: refused at start, secret unshown.
    let stderr = refused_start(
        &["--blob", blob],
        &[("AWS_ACCESS_KEY_ID", "AKIDx"), ("AWS_SECRET_ACCESS_KEY", "hunter2secret")],
    );
    assert!(stderr.contains("blob store"), "{stderr}");
    assert!(!stderr.contains("hunter2secret"), "{stderr}");
}

/// A content store whose presigned PUTs obey an `x-amz-copy-source` their
/// signature does not cover lets anyone holding an upload URL copy another
/// org's file into theirs (a review did so through the test store): the
/// server refuses to start on it, saying why, unless its URL marks it a
/// test store (`insecure_presigned_puts=true`, which every other S3 test
/// gives, and starts with). Needs the S3 server of `scripts/s3.sh`.
#[test]
fn a_store_whose_presigned_puts_copy_for_unsigned_headers_is_refused() {
    let url = std::env::var("ORGDRIVE_TEST_BLOB_URL")
        .expect("ORGDRIVE_TEST_BLOB_URL: start the S3 server with eval \"$(bash scripts/s3.sh)\"");
    assert!(url.contains("&insecure_presigned_puts=true"), "{url}");
    let strict = format!(
        "{}&root=/binary-tests/{}",
        url.replace("&insecure_presigned_puts=true", ""),
        std::process::id()
    );
    let stderr = refused_start(&["--blob", &strict], &[]);
    assert!(stderr.contains("x-amz-copy-source"), "{stderr}");
    assert!(stderr.contains("insecure_presigned_puts=true"), "{stderr}");
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    assert!(!stderr.contains(&secret), "{stderr}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_data_dir_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Running::start(&["--data-dir", data.to_str().unwrap()]);
    // One file's content, so that blob files exist too.
    let (http, _, url) = demo_upload_url(&server, None).await;
    assert_eq!(http.put(&url).body("secret bytes").send().await.unwrap().status(), 200);

    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data dir");
    let mut checked = 0;
    let mut stack = vec![data.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                assert_eq!(mode(&path) & 0o077, 0, "{} is open to others", path.display());
                stack.push(path);
            } else {
                assert_eq!(mode(&path) & 0o077, 0, "{} is open to others", path.display());
                checked += 1;
            }
        }
    }
    // meta.sqlite (+ -wal, -shm), admin.token, signing.key, the uploaded object.
    assert!(checked >= 5, "{checked} files checked");
    assert!(server.terminate().success());
}

#[tokio::test]
async fn no_demo_and_a_separate_admin_listener() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Running::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--no-demo",
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    assert!(server.value("appKey").is_none(), "--no-demo seeds nothing");
    let admin_line = server.lines.iter().find(|l| l.starts_with("admin API on")).unwrap();
    let admin_base = admin_line["admin API on ".len()..].trim_end_matches("/admin/v1").to_string();
    let token = server.value("admin token:").unwrap();
    let http = reqwest::Client::new();
    // The admin API answers on its own address only.
    let orgs: Value =
        json(http.get(format!("{admin_base}/admin/v1/orgs")).bearer_auth(&token)).await;
    assert_eq!(orgs["items"], json!([]), "no demo org");
    let public = http.get(format!("{}/admin/v1/orgs", server.base())).bearer_auth(&token);
    let public = public.send().await.unwrap();
    assert_eq!(public.status(), 404);
    // And the storage API does not answer on the admin address.
    let token_call = http.post(format!("{admin_base}/v1.0/oauth2/accessToken")).json(&json!({}));
    assert_eq!(token_call.send().await.unwrap().status(), 404);
    // Metrics go with the admin API; the probes answer on both.
    let scrape = |base: &str| http.get(format!("{base}/metrics")).bearer_auth(&token).send();
    assert_eq!(scrape(&admin_base).await.unwrap().status(), 200);
    assert_eq!(scrape(&server.base()).await.unwrap().status(), 404);
    for base in [&admin_base, &server.base()] {
        for probe in ["healthz", "readyz"] {
            let answer = http.get(format!("{base}/{probe}")).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{base}/{probe}");
        }
    }
    assert!(server.terminate().success(), "both listeners stop on SIGTERM");
}

#[test]
fn an_unreadable_secret_file_is_refused_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let binary_key: Vec<u8> = (0..48u8).map(|b| b.wrapping_mul(37).wrapping_add(128)).collect();
    std::fs::write(dir.path().join("signing.key"), &binary_key).unwrap();
    let stderr = refused_start_in(dir.path(), &[], &[]);
    assert!(stderr.contains("not UTF-8"), "{stderr}");
    assert_eq!(std::fs::read(dir.path().join("signing.key")).unwrap(), binary_key);
}

#[tokio::test]
async fn a_restart_releases_what_interrupted_puts_had_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Running::start(&["--data-dir", data.to_str().unwrap(), "--min-free-disk", "0"]);
    let base = server.base();
    let (_, space_id, url) = demo_upload_url(&server, Some(10 << 20)).await;
    // A PUT announcing 8 MiB is in flight when the server dies.
    use std::io::Write;
    let target = url.trim_start_matches(&base).to_string();
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    write!(stream, "PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\nabcde", 8 << 20)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let reserved = || async {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let db = rusqlite::Connection::open_with_flags(data.join("meta.sqlite"), flags).unwrap();
        let sql = "SELECT reserved_bytes FROM spaces WHERE space_id = ?1";
        db.query_row(sql, [&space_id], |r| r.get::<_, i64>(0)).unwrap()
    };
    assert_eq!(reserved().await, 8 << 20);
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(stream);
    let server = Running::start(&["--data-dir", data.to_str().unwrap(), "--min-free-disk", "0"]);
    assert_eq!(reserved().await, 0, "nothing is in flight after a restart");
    assert!(server.terminate().success());
}

/// Through the demo account of a first start: a space (with `quota`) and a
/// signed PUT URL of a new upload in it. Returns (client, space id, URL).
async fn demo_upload_url(
    server: &Running,
    quota: Option<i64>,
) -> (reqwest::Client, String, String) {
    let base = server.base();
    let http = reqwest::Client::new();
    let token: Value = json(http.post(format!("{base}/v1.0/oauth2/accessToken")).json(&json!({
        "appKey": server.value("appKey").unwrap(),
        "appSecret": server.value("appSecret").unwrap(),
    })))
    .await;
    let token = token["accessToken"].as_str().unwrap().to_string();
    let union_id = server.value("unionId").unwrap();
    let space: Value = json(
        http.post(format!("{base}/v1.0/storage/spaces?unionId={union_id}"))
            .header("x-acs-dingtalk-access-token", &token)
            .json(&json!({"option": {"quota": quota}})),
    )
    .await;
    let space_id = space["space"]["id"].as_str().unwrap().to_string();
    let info: Value = json(
        http.post(format!(
            "{base}/v1.0/storage/spaces/{space_id}/files/uploadInfos/query?unionId={union_id}"
        ))
        .header("x-acs-dingtalk-access-token", &token)
        .json(&json!({"protocol": "HEADER_SIGNATURE"})),
    )
    .await;
    let url = info["headerSignatureInfo"]["resourceUrls"][0].as_str().unwrap().to_string();
    (http, space_id, url)
}

#[tokio::test]
async fn json_log_lines_carry_the_request_id_of_their_request() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let server = Running::start_with(
        &["--ephemeral", "--log-format", "json"],
        &[("ORGDRIVE_LOG", "info,orgdrive_server=debug")],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let answer = reqwest::get(format!("{}/healthz", server.base())).await.unwrap();
    let request_id = answer.headers()["x-acs-request-id"].to_str().unwrap().to_string();
    assert!(server.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()));
    // The frame's line for the request names it by its id.
    let answered = lines
        .iter()
        .find(|l| l["fields"]["message"] == "answered")
        .unwrap_or_else(|| panic!("no line for the request: {text}"));
    assert_eq!(answered["requestid"], request_id.as_str());
    assert_eq!(answered["fields"]["status"], 200);
    // Lines outside any request carry none.
    assert!(lines.iter().any(|l| l.get("requestid").is_none()), "{text}");
}
