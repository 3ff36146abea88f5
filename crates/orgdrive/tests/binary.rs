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
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("ORGDRIVE_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
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
    let admin_token = server.value("admin token").unwrap();
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
    assert_eq!(server.value("admin token").unwrap(), admin_token);
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

#[test]
fn ephemeral_data_is_thrown_away_and_admin_token_can_be_given() {
    let server = Running::start(&["--ephemeral", "--admin-token", "given-token"]);
    assert_eq!(server.value("admin token").unwrap(), "given-token");
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

#[test]
fn admin_subcommands_provision_a_data_dir() {
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
    assert!(server.terminate().success());

    let failed = Command::new(BIN)
        .args(["admin", "--data-dir", dir.path().to_str().unwrap(), "org", "delete", "nope"])
        .output()
        .unwrap();
    assert!(!failed.status.success());
}
