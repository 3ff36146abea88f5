//! The HTTP ceiling for orgdrive's metadata reads: a bare axum server that
//! answers `GET /space` with a fixed JSON body of about the size of a real
//! GetSpace answer, and `GET /canned` with whatever body was last `PUT
//! /canned` (the harness puts a real ListDentries page there, so the ceiling
//! answers the same bytes), with TCP_NODELAY on accepted sockets — no auth,
//! no database, no middleware.
//!
//!   baseline-axum [ADDR]      (default 127.0.0.1:8090; prints `ready` once listening)

use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;

/// Shaped like orgdrive's GetSpace answer (the same fields, similar values).
const SPACE: &str = r#"{"space":{"id":"7412938470919225344","corpId":"ding3f2c9a6b1d0e4a57","creatorId":"T8yq2Lw0mVb3Kp9sRz1aXc","ownerType":"USER","ownerId":"T8yq2Lw0mVb3Kp9sRz1aXc","modifierId":"T8yq2Lw0mVb3Kp9sRz1aXc","usedQuota":4096,"status":"NORMAL","createTime":"2026-11-27T10:15:30Z","modifiedTime":"2026-11-27T10:15:30Z","appId":"7412938470617235456","scene":"bench","sceneId":"bench","capabilities":{"canSearch":true,"canRename":true,"canRecordRecentFile":true},"name":"bench","partitions":[{"partitionType":"PUBLIC_OSS_PARTITION","quota":{"max":107374182400,"reserved":0,"used":4096,"type":"SHARE"}}]}}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".into());
    let canned: Arc<RwLock<Bytes>> = Arc::default();
    let app = Router::new()
        .route("/space", get(|| async { ([(CONTENT_TYPE, "application/json")], SPACE) }))
        .route(
            "/canned",
            get(|State(body): State<Arc<RwLock<Bytes>>>| async move {
                let body = body.read().unwrap().clone();
                ([(CONTENT_TYPE, "application/json")], body)
            })
            .put(|State(slot): State<Arc<RwLock<Bytes>>>, body: Bytes| async move {
                *slot.write().unwrap() = body;
            }),
        )
        .with_state(canned);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("ready on http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
