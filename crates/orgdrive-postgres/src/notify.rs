//! Messages between the nodes sharing the database, through PostgreSQL
//! `LISTEN`/`NOTIFY` on one channel: what a node's read caches dropped
//! after its own changes ([`PgStore::notify_changes`]), received by every
//! other node listening ([`PgStore::listen_changes`]). The payload is the
//! sending node's number, then one line per change; the store does not
//! interpret the lines. A notification is delivered when (and only if) its
//! transaction commits; one that does not fit PostgreSQL's payload limit is
//! sent as several, in one transaction.

use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client};

use orgdrive_store::{StoreError, StoreResult};

use crate::{exec, tx, PgStore};

/// The channel every node listens on.
const CHANNEL: &str = "orgdrive_cache_changes";
/// Payload bytes per notification: PostgreSQL's limit is 8000.
const MAX_PAYLOAD: usize = 7900;
/// Notifications received and not yet taken.
const BACKLOG: usize = 1024;

impl PgStore {
    /// Sends `lines` (none containing a line break) from `node` to every
    /// node listening.
    pub async fn notify_changes(&self, node: i64, lines: &[String]) -> StoreResult<()> {
        let payloads = payloads(node, lines)?;
        if payloads.is_empty() {
            return Ok(());
        }
        tx!(self, |t| {
            for payload in &payloads {
                exec(&t, "SELECT pg_notify($1, $2)", &[&CHANNEL, payload]).await?;
            }
        })
    }

    /// Listens on a connection of its own: every notification (the sending
    /// node and its lines, joined by `\n`) until the connection ends, when
    /// [`ChangeListener::recv`] answers `None` (the caller listens again).
    pub async fn listen_changes(&self) -> StoreResult<ChangeListener> {
        let (client, mut connection) = crate::connect::connect(&self.config, &self.tls).await?;
        let (sender, receiver) = mpsc::channel(BACKLOG);
        tokio::spawn(async move {
            loop {
                let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                match message {
                    Some(Ok(AsyncMessage::Notification(n))) if n.channel() == CHANNEL => {
                        let Some(parsed) = parse(n.payload()) else {
                            tracing::debug!("ignored a malformed notification");
                            continue;
                        };
                        if sender.send(parsed).await.is_err() {
                            return; // The listener was dropped.
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "the listening connection failed");
                        return;
                    }
                    None => return,
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|e| crate::error::classify(&e))?;
        Ok(ChangeListener { receiver, _client: client })
    }
}

/// Notifications from the other nodes (and this one's own: the caller
/// skips those by their node number).
pub struct ChangeListener {
    receiver: mpsc::Receiver<(i64, String)>,
    /// Keeps the listening connection open.
    _client: Client,
}

impl ChangeListener {
    /// The next notification: the sending node and its lines; `None` once
    /// the connection ended.
    pub async fn recv(&mut self) -> Option<(i64, String)> {
        self.receiver.recv().await
    }
}

/// `lines` from `node` as payloads within the limit, each `node\nline\n…`.
fn payloads(node: i64, lines: &[String]) -> StoreResult<Vec<String>> {
    let head = node.to_string();
    let mut payloads = Vec::new();
    let mut current = head.clone();
    for line in lines {
        if line.contains('\n') || line.contains('\0') {
            return Err(StoreError::Backend("a change line with a line break or NUL".into()));
        }
        if head.len() + 1 + line.len() > MAX_PAYLOAD {
            return Err(StoreError::Backend(format!(
                "a change line of {} bytes does not fit a notification",
                line.len()
            )));
        }
        if current.len() + 1 + line.len() > MAX_PAYLOAD {
            payloads.push(std::mem::replace(&mut current, head.clone()));
        }
        current.push('\n');
        current.push_str(line);
    }
    if current.len() > head.len() {
        payloads.push(current);
    }
    Ok(payloads)
}

/// A payload's sending node and lines.
fn parse(payload: &str) -> Option<(i64, String)> {
    let (node, lines) = payload.split_once('\n')?;
    Some((node.parse().ok()?, lines.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_into_payloads_within_the_limit_and_parsed_back() {
        let lines: Vec<String> = (0..1000).map(|i| format!("space:{i:05}")).collect();
        let sent = payloads(7, &lines).unwrap();
        assert!(sent.len() > 1);
        let mut received = Vec::new();
        for payload in &sent {
            assert!(payload.len() <= MAX_PAYLOAD);
            let (node, body) = parse(payload).unwrap();
            assert_eq!(node, 7);
            received.extend(body.lines().map(str::to_string));
        }
        assert_eq!(received, lines);
        assert!(payloads(7, &[]).unwrap().is_empty());
        assert!(payloads(7, &["a\nb".to_string()]).is_err());
        assert!(payloads(7, &["x".repeat(MAX_PAYLOAD)]).is_err());
        assert_eq!(parse("no node"), None);
    }
}
