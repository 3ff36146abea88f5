//! Event delivery: the workers that take each subscribed app's events from
//! the outbox, in commit order, and deliver them — over the app's HTTP
//! callback when it registered one, otherwise over a Stream-mode connection
//! open on this node — acknowledging each by moving the app's cursor.
//! One node delivers an app's events at a time (the store's lease); a
//! failed delivery is retried with backoff from the same event, so a
//! receiver gets every event at least once and in order (de-duplicating by
//! `eventId`).

pub mod callback;
pub mod stream;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orgdrive_core::{now_ms, CallbackRecord, Drive, DELIVERY_LEASE_MS, STREAM_TICKET_TTL_MS};

use crate::wire::{CallbackMessage, EventPayload};
use stream::StreamConnection;

/// How often the workers look for new events.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// Stream connections per app on one node, and in all.
pub const MAX_STREAMS_PER_APP: usize = 8;
pub const MAX_STREAMS: usize = 1024;

/// This node's delivery state: open Stream connections, tickets already
/// used, apps being delivered now, and the HTTP client for callbacks.
pub struct Hub {
    streams: Mutex<HashMap<String, Vec<Arc<StreamConnection>>>>,
    redeemed: Mutex<HashMap<String, i64>>,
    busy: Mutex<HashSet<String>>,
    http: reqwest::Client,
}

impl Default for Hub {
    fn default() -> Hub {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client without TLS builds");
        Hub { streams: Mutex::default(), redeemed: Mutex::default(), busy: Mutex::default(), http }
    }
}

impl Hub {
    /// Marks a ticket's nonce used; false if it was used before.
    pub fn redeem(&self, nonce: &str) -> bool {
        let now = now_ms();
        let mut redeemed = self.redeemed.lock().expect("redeemed lock");
        redeemed.retain(|_, expires| *expires > now);
        redeemed.insert(nonce.to_owned(), now + STREAM_TICKET_TTL_MS).is_none()
    }

    /// Whether another connection of this app may open here.
    pub fn has_room(&self, app_id: &str) -> bool {
        let streams = self.streams.lock().expect("streams lock");
        let total: usize = streams.values().map(Vec::len).sum();
        total < MAX_STREAMS && streams.get(app_id).map_or(0, Vec::len) < MAX_STREAMS_PER_APP
    }

    pub fn register(&self, app_id: &str, connection: Arc<StreamConnection>) {
        let mut streams = self.streams.lock().expect("streams lock");
        streams.entry(app_id.to_owned()).or_default().push(connection);
    }

    pub fn unregister(&self, app_id: &str, connection_id: &str) {
        let mut streams = self.streams.lock().expect("streams lock");
        if let Some(open) = streams.get_mut(app_id) {
            open.retain(|c| c.connection_id != connection_id);
            if open.is_empty() {
                streams.remove(app_id);
            }
        }
    }

    /// The newest open connection of the app that takes events.
    fn stream_for(&self, app_id: &str) -> Option<Arc<StreamConnection>> {
        let streams = self.streams.lock().expect("streams lock");
        streams.get(app_id)?.iter().rev().find(|c| c.takes_events).cloned()
    }

    /// Registers an app's callback only if its URL answers `check_url` as
    /// DingTalk requires.
    pub async fn check_callback(&self, callback: &CallbackRecord) -> Result<(), String> {
        let message = CallbackMessage { callback_event_type: "check_url", payload: None };
        let text = serde_json::to_string(&message).map_err(|e| e.to_string())?;
        callback::push(&self.http, callback, &text).await
    }
}

/// How an app's events travel now.
enum Channel {
    Callback(Box<CallbackRecord>),
    Stream(Arc<StreamConnection>),
}

/// Delivers events until the process ends.
pub async fn run(drive: Drive, hub: Arc<Hub>) {
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        poll.tick().await;
        if let Err(e) = dispatch(&drive, &hub).await {
            tracing::warn!(error = %e, "event delivery: listing the apps to deliver failed");
        }
    }
}

/// Starts a worker for every subscribed app that has a channel here and no
/// worker yet.
async fn dispatch(drive: &Drive, hub: &Arc<Hub>) -> orgdrive_core::DriveResult<()> {
    for cursor in drive.event_cursors().await? {
        let app_id = cursor.app_id;
        if hub.busy.lock().expect("busy lock").contains(&app_id) {
            continue;
        }
        let channel = match drive.delivery_callback(&app_id).await? {
            Some(callback) => Channel::Callback(Box::new(callback)),
            None => match hub.stream_for(&app_id) {
                Some(connection) => Channel::Stream(connection),
                None => {
                    if cursor.lease_node.is_some() && cursor.lease_until_ms > now_ms() {
                        // Ours or not, releasing only drops this node's.
                        drive.release_events(&app_id).await?;
                    }
                    continue;
                }
            },
        };
        hub.busy.lock().expect("busy lock").insert(app_id.clone());
        let (drive, hub) = (drive.clone(), Arc::clone(hub));
        tokio::spawn(async move {
            if let Err(e) = deliver_batch(&drive, &hub, &app_id, channel).await {
                tracing::warn!(app_id = %app_id, error = %e, "event delivery failed");
            }
            hub.busy.lock().expect("busy lock").remove(&app_id);
        });
    }
    Ok(())
}

/// Delivers the app's next batch, in order, stopping at the first failure
/// (retried later from that event) or when the lease runs short.
async fn deliver_batch(
    drive: &Drive,
    hub: &Hub,
    app_id: &str,
    channel: Channel,
) -> orgdrive_core::DriveResult<()> {
    let Some(batch) = drive.claim_events(app_id).await? else { return Ok(()) };
    let started = Instant::now();
    let deadline = Duration::from_millis(DELIVERY_LEASE_MS as u64 / 2);
    let mut delivered_to = batch.cursor.last_seq;
    for event in &batch.events {
        if started.elapsed() > deadline {
            return Ok(());
        }
        let outcome = match &channel {
            Channel::Stream(connection) => connection.deliver(&batch.app, event).await,
            Channel::Callback(callback) => {
                let payload = EventPayload::from(event);
                let message = CallbackMessage {
                    callback_event_type: &payload.event_type,
                    payload: Some(&payload),
                };
                match serde_json::to_string(&message) {
                    Ok(text) => callback::push(&hub.http, callback, &text).await,
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        if let Err(reason) = outcome {
            let delay = drive.events_failed(&batch.cursor, &reason).await?;
            tracing::info!(
                app_id,
                event_id = %event.event_id,
                retry_in_ms = delay,
                reason = %reason,
                "event not delivered; will retry"
            );
            return Ok(());
        }
        if !drive.events_delivered(app_id, event.seq).await? {
            return Ok(()); // another node took over
        }
        delivered_to = event.seq;
    }
    if batch.done_to > delivered_to {
        drive.events_delivered(app_id, batch.done_to).await?;
    }
    Ok(())
}
