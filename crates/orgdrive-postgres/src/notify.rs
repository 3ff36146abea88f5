//! Notifications between the nodes sharing the database: the cache relay's
//! channel (`NOTIFY orgdrive_cache`). A notification is `node\nline…`: the
//! sending node's number, then the lines it relays (see the binary's
//! `relay` module for what they mean; this module only carries them).

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use orgdrive_store::{StoreError, StoreResult};

use crate::PgStore;

/// The channel the cache relay uses.
const CHANNEL: &str = "orgdrive_cache";
/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;
/// Notifications buffered for a slow receiver before the connection is
/// dropped (the receiver then starts over and forgets everything).
const BACKLOG: usize = 1024;

impl PgStore {
    /// Sends `lines` from `node` to every node listening, in as few
    /// notifications as fit; a line longer than a notification holds is
    /// refused.
    pub async fn notify_changes(&self, node: i64, lines: &[String]) -> StoreResult<()> {
        let client = self.client().await?;
        let head = node.to_string();
        let mut payload = head.clone();
        for line in lines {
            if head.len() + 1 + line.len() > MAX_PAYLOAD || line.contains('\n') {
                return Err(StoreError::Backend("a relayed line is too long".into()));
            }
            if payload.len() + 1 + line.len() > MAX_PAYLOAD {
                notify(&client, &payload).await?;
                payload = head.clone();
            }
            payload.push('\n');
            payload.push_str(line);
        }
        if payload.len() > head.len() {
            notify(&client, &payload).await?;
        }
        Ok(())
    }

    /// Listens on a connection of its own: yields (sending node, lines) for
    /// every notification until the connection ends (then the receiver
    /// yields `None`).
    pub async fn listen_changes(&self) -> StoreResult<mpsc::Receiver<(i64, String)>> {
        let (client, mut connection) = self.config().connect(NoTls).await.map_err(|e| {
            StoreError::Backend(format!("cannot connect to listen: {}", crate::error::classify(&e)))
        })?;
        let (sender, receiver) = mpsc::channel(BACKLOG);
        let (ready, listening) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            let mut ready = Some(ready);
            let listen = async {
                let outcome = client.batch_execute(&format!("LISTEN {CHANNEL}")).await;
                if let Some(ready) = ready.take() {
                    let _ = ready.send(outcome.is_ok());
                }
                // Keep the client (and so the connection) alive.
                std::future::pending::<()>().await;
            };
            tokio::pin!(listen);
            loop {
                tokio::select! {
                    _ = &mut listen => {}
                    message = messages.next() => match message {
                        Some(Ok(AsyncMessage::Notification(n))) if n.channel() == CHANNEL => {
                            let Some((node, lines)) = n.payload().split_once('\n') else { continue };
                            let Ok(node) = node.parse::<i64>() else { continue };
                            if sender.try_send((node, lines.to_string())).is_err() {
                                return; // full or closed: the receiver starts over
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => return,
                    },
                }
            }
        });
        match listening.await {
            Ok(true) => Ok(receiver),
            _ => Err(StoreError::Backend("could not LISTEN for other nodes' changes".into())),
        }
    }
}

async fn notify(client: &deadpool_postgres::Object, payload: &str) -> StoreResult<()> {
    client
        .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
        .await
        .map(drop)
        .map_err(|e| StoreError::Backend(format!("NOTIFY: {}", crate::error::classify(&e))))
}
