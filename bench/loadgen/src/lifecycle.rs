//! Dentry lifecycle loads: `rename-cycle` and `move-cycle`. Each worker owns
//! one file, uploaded before the load starts (GetFileUploadInfo -> PUT ->
//! CommitFile), and changes only that file, so workers never conflict:
//! RenameDentry alternately between two names, or MoveDentry alternately
//! between two folders of the same space (a move within a space answers at
//! once, `async: false`). Every answer is checked (the new name, the new
//! parent); anything else counts as an error.

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::client::{Conn, Target};
use crate::load::{json_headers, short, Headers, Op, OpFuture, Outcome, UploadCycleOp};

/// Where the API is and who calls it.
#[derive(Clone)]
pub struct Api {
    pub target: Target,
    pub space: String,
    pub union_id: String,
    pub token: String,
}

impl Api {
    fn path(&self, rest: &str) -> String {
        format!("/v1.0/storage/spaces/{}/{rest}?unionId={}", self.space, self.union_id)
    }
}

/// Uploads one small file named `name` into `parent` on its own connection;
/// answers its dentry id.
pub async fn create_file(api: &Api, parent: &str, name: &str, payload: Bytes) -> Result<String> {
    // UploadCycleOp names its n-th file `{prefix}-{n}.bin`.
    let prefix = name.strip_suffix("-0.bin").ok_or_else(|| anyhow!("{name} must end in -0.bin"))?;
    let mut op = UploadCycleOp::new(
        &api.target,
        &api.space,
        parent,
        &api.union_id,
        &api.token,
        prefix.to_string(),
        payload,
    );
    let dentry = op.upload_one(0).await?;
    dentry["id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("no dentry id: {dentry}"))
}

/// AddFolder `name` under `parent` (RETURN_ERROR_IF_EXISTS); answers its id.
pub async fn create_folder(api: &Api, parent: &str, name: &str) -> Result<String> {
    let mut conn = Conn::new(&api.target.authority);
    let body = json!({"name": name, "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"}});
    let r = conn
        .send(
            &Method::POST,
            &api.path(&format!("dentries/{parent}/folders")),
            &json_headers(&api.token),
            body.to_string().into(),
        )
        .await?;
    if !(200..300).contains(&r.status) {
        bail!("AddFolder {name}: HTTP {}: {}", r.status, short(&r.body));
    }
    let v: Value = serde_json::from_slice(&r.body)?;
    v["dentry"]["id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("no dentry id: {v}"))
}

/// The dentry of a 2xx answer, or the outcome to report.
fn answered(step: &str, r: Result<crate::client::Response>) -> Result<Value, Outcome> {
    match r {
        Ok(r) if (200..300).contains(&r.status) => serde_json::from_slice::<Value>(&r.body)
            .map_err(|e| Outcome::Failed(format!("{step}: bad JSON: {e}"))),
        Ok(r) => Err(Outcome::Status(r.status, format!("{step}: {}", short(&r.body)))),
        Err(e) => Err(Outcome::Failed(format!("{step}: {e}"))),
    }
}

// ---- rename-cycle -------------------------------------------------------------

pub struct RenameCycleOp {
    conn: Conn,
    path: String,
    headers: Headers,
    /// The two names the file alternates between; `names[current]` is its name now.
    names: [String; 2],
    current: usize,
}

impl RenameCycleOp {
    /// Uploads the worker's file (`{prefix}-0.bin` in `parent`).
    pub async fn prepare(api: &Api, parent: &str, prefix: &str, payload: Bytes) -> Result<Self> {
        let names = [format!("{prefix}-0.bin"), format!("{prefix}-1.bin")];
        let id = create_file(api, parent, &names[0], payload).await?;
        Ok(RenameCycleOp {
            conn: Conn::new(&api.target.authority),
            path: api.path(&format!("dentries/{id}/rename")),
            headers: json_headers(&api.token),
            names,
            current: 0,
        })
    }
}

impl Op for RenameCycleOp {
    fn call(&mut self, _n: u64) -> OpFuture<'_> {
        Box::pin(async move {
            let next = 1 - self.current;
            let body = json!({"newName": self.names[next]}).to_string();
            let r = self.conn.send(&Method::POST, &self.path, &self.headers, body.into()).await;
            match answered("RenameDentry", r) {
                Ok(v) if v["dentry"]["name"].as_str() == Some(self.names[next].as_str()) => {
                    self.current = next;
                    Outcome::Ok
                }
                Ok(v) => Outcome::Failed(format!(
                    "RenameDentry answered another name: {}",
                    short(v.to_string().as_bytes())
                )),
                Err(outcome) => outcome,
            }
        })
    }
}

// ---- move-cycle ---------------------------------------------------------------

pub struct MoveCycleOp {
    conn: Conn,
    path: String,
    headers: Headers,
    space: String,
    /// The two folders the file alternates between; `folders[current]` holds it now.
    folders: [String; 2],
    current: usize,
}

impl MoveCycleOp {
    /// Uploads the worker's file (`{prefix}-0.bin`) into `folders[0]`.
    pub async fn prepare(
        api: &Api,
        folders: [String; 2],
        prefix: &str,
        payload: Bytes,
    ) -> Result<Self> {
        let id = create_file(api, &folders[0], &format!("{prefix}-0.bin"), payload).await?;
        Ok(MoveCycleOp {
            conn: Conn::new(&api.target.authority),
            path: api.path(&format!("dentries/{id}/move")),
            headers: json_headers(&api.token),
            space: api.space.clone(),
            folders,
            current: 0,
        })
    }
}

impl Op for MoveCycleOp {
    fn call(&mut self, _n: u64) -> OpFuture<'_> {
        Box::pin(async move {
            let next = 1 - self.current;
            let body = json!({"targetSpaceId": self.space, "targetFolderId": self.folders[next]})
                .to_string();
            let r = self.conn.send(&Method::POST, &self.path, &self.headers, body.into()).await;
            match answered("MoveDentry", r) {
                Ok(v)
                    if v["async"] == json!(false)
                        && v["dentry"]["parentId"].as_str()
                            == Some(self.folders[next].as_str()) =>
                {
                    self.current = next;
                    Outcome::Ok
                }
                Ok(v) => Outcome::Failed(format!(
                    "MoveDentry answered an unexpected placement: {}",
                    short(v.to_string().as_bytes())
                )),
                Err(outcome) => outcome,
            }
        })
    }
}
