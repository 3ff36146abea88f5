//! Stream mode's server side: a WebSocket session per connection opened
//! with a gateway ticket. The session sends `EVENT` frames, reads the
//! client's acknowledgements (matched by `messageId`), pings the client and
//! closes a connection that stays silent or cannot keep up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use orgdrive_core::{now_ms, AppRecord, EventRecord};
use tokio::sync::{mpsc, oneshot};

use crate::wire::{EventPayload, StreamAck, StreamFrame, StreamHeaders};

/// How long a client may take to acknowledge an event.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one frame may take to be written to a client.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A WebSocket ping this often; a connection silent for three of them is closed.
const PING_EVERY: Duration = Duration::from_secs(20);
/// Frames waiting to be written to one connection.
const OUTGOING: usize = 16;

/// One open Stream-mode connection of an app on this node.
pub struct StreamConnection {
    pub connection_id: String,
    /// Whether the client asked for events (`{"type": "EVENT"}`).
    pub takes_events: bool,
    /// The app's `modified_at` when the connection opened: its secret's
    /// rotation (the only change of an app) comes after it.
    secret_of: i64,
    outgoing: mpsc::Sender<Message>,
    acks: Mutex<HashMap<String, oneshot::Sender<i64>>>,
}

impl StreamConnection {
    /// Sends the event and waits for the client's acknowledgement; `Err`
    /// says why it was not acknowledged with code 200.
    /// A connection opened before the app's secret was rotated (on any
    /// node) is closed instead: it gets no more events.
    pub async fn deliver(&self, app: &AppRecord, event: &EventRecord) -> Result<(), String> {
        if app.modified_at > self.secret_of {
            self.close();
            return Err("the app's secret was rotated after the connection opened".into());
        }
        let message_id = uuid::Uuid::new_v4().to_string();
        let data = serde_json::to_string(&EventPayload::from(event))
            .map_err(|e| format!("encoding the event: {e}"))?;
        let frame = StreamFrame {
            spec_version: "1.0",
            kind: "EVENT",
            headers: StreamHeaders {
                app_id: &app.app_id,
                connection_id: &self.connection_id,
                content_type: "application/json",
                message_id: &message_id,
                time: now_ms().to_string(),
                topic: event.event_type.as_str(),
                event_born_time: Some(event.at_ms.to_string()),
                event_corp_id: Some(&event.corp_id),
                event_id: Some(&event.event_id),
                event_type: Some(event.event_type.as_str()),
                event_unified_app_id: Some(&app.app_id),
            },
            data,
        };
        let text = serde_json::to_string(&frame).map_err(|e| format!("encoding the frame: {e}"))?;
        let (ack_tx, ack_rx) = oneshot::channel();
        self.acks.lock().expect("acks lock").insert(message_id.clone(), ack_tx);
        let sent = tokio::time::timeout(
            SEND_TIMEOUT,
            self.outgoing.send(Message::Text(Utf8Bytes::from(text))),
        )
        .await;
        let answer = match sent {
            Ok(Ok(())) => match tokio::time::timeout(ACK_TIMEOUT, ack_rx).await {
                Ok(Ok(200)) => Ok(()),
                Ok(Ok(code)) => Err(format!("the client answered code {code}")),
                Ok(Err(_)) => Err("the connection closed before the acknowledgement".into()),
                Err(_) => Err("no acknowledgement in time".into()),
            },
            Ok(Err(_)) => Err("the connection is closed".into()),
            Err(_) => Err("the connection does not keep up".into()),
        };
        self.acks.lock().expect("acks lock").remove(&message_id);
        answer
    }

    /// Ends the connection (its app's secret was rotated): a close frame,
    /// then the session ends.
    pub fn close(&self) {
        let _ = self.outgoing.try_send(Message::Close(None));
    }

    fn acknowledged(&self, text: &str) {
        let Ok(ack) = serde_json::from_str::<StreamAck>(text) else { return };
        let Some(id) = ack.headers.and_then(|h| h.message_id) else { return };
        if let Some(waiting) = self.acks.lock().expect("acks lock").remove(&id) {
            let _ = waiting.send(ack.code.unwrap_or(0));
        }
    }
}

/// Runs one connection until it closes: registers it with `register` for
/// delivery, and calls `unregister` when it ends.
pub async fn run_session(
    socket: WebSocket,
    takes_events: bool,
    secret_of: i64,
    register: impl FnOnce(Arc<StreamConnection>),
    unregister: impl FnOnce(&str),
) {
    let (mut sink, mut incoming) = socket.split();
    let (outgoing, mut queued) = mpsc::channel::<Message>(OUTGOING);
    let connection = Arc::new(StreamConnection {
        connection_id: uuid::Uuid::new_v4().to_string(),
        takes_events,
        secret_of,
        outgoing,
        acks: Mutex::new(HashMap::new()),
    });
    register(Arc::clone(&connection));
    let writer = async {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            let message = tokio::select! {
                next = queued.recv() => match next {
                    Some(message) => message,
                    None => break,
                },
                _ = ping.tick() => Message::Ping(Default::default()),
            };
            let closing = matches!(message, Message::Close(_));
            match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
                Ok(Ok(())) if !closing => {}
                _ => break,
            }
        }
        let _ = sink.close().await;
    };
    let reader = async {
        loop {
            match tokio::time::timeout(PING_EVERY * 3, incoming.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => connection.acknowledged(text.as_str()),
                Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) | Err(_) => break,
                Ok(Some(Ok(_))) => {} // pongs, pings (answered by the library), binary
            }
        }
    };
    // Whichever ends first ends the session.
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
    unregister(&connection.connection_id);
}
