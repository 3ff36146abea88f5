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

use orgdrive_core::{now_ms, CallbackRecord, Drive};

use crate::wire::{CallbackMessage, EventPayload};
use stream::StreamConnection;

/// How long a worker delivers before renewing its app's lease (which lasts
/// `DELIVERY_LEASE_MS`, more than this plus one delivery's longest wait).
const LEASE_RENEWAL: Duration = Duration::from_secs(5);
/// How often the workers look for new events.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// Stream connections per app on one node, and in all.
pub const MAX_STREAMS_PER_APP: usize = 8;
pub const MAX_STREAMS: usize = 1024;

/// This node's delivery state: open Stream connections, tickets already
/// used, apps being delivered now, and the HTTP client for callbacks.
pub struct Hub {
    streams: Mutex<HashMap<String, Vec<Arc<StreamConnection>>>>,
    /// Stream connections per app, counted from the handshake's check to the
    /// session's end (so racing handshakes cannot pass the caps).
    slots: Mutex<HashMap<String, usize>>,
    busy: Mutex<HashSet<String>>,
    http: reqwest::Client,
}

/// A Stream connection's place under the caps; given back when dropped.
pub struct StreamSlot {
    hub: Arc<Hub>,
    app_id: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut slots = self.hub.slots.lock().expect("slots lock");
        if let Some(open) = slots.get_mut(&self.app_id) {
            *open -= 1;
            if *open == 0 {
                slots.remove(&self.app_id);
            }
        }
    }
}

impl Default for Hub {
    fn default() -> Hub {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client without TLS builds");
        Hub { streams: Mutex::default(), slots: Mutex::default(), busy: Mutex::default(), http }
    }
}

impl Hub {
    /// A place for another Stream connection of the app on this node, if
    /// the caps allow one.
    pub fn reserve_stream(self: &Arc<Self>, app_id: &str) -> Option<StreamSlot> {
        let mut slots = self.slots.lock().expect("slots lock");
        let total: usize = slots.values().sum();
        let open = slots.entry(app_id.to_owned()).or_insert(0);
        if total >= MAX_STREAMS || *open >= MAX_STREAMS_PER_APP {
            if *open == 0 {
                slots.remove(app_id);
            }
            return None;
        }
        *open += 1;
        Some(StreamSlot { hub: Arc::clone(self), app_id: app_id.to_owned() })
    }

    pub fn register(&self, app_id: &str, connection: Arc<StreamConnection>) {
        let mut streams = self.streams.lock().expect("streams lock");
        streams.entry(app_id.to_owned()).or_default().push(connection);
    }

    /// Closes every Stream connection of the app on this node (its secret
    /// was rotated; tickets issued before are refused by the domain).
    pub fn close_app(&self, app_id: &str) {
        let open = self.streams.lock().expect("streams lock").remove(app_id);
        for connection in open.into_iter().flatten() {
            connection.close();
        }
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
    let cursors = drive.event_cursors().await?;
    if cursors.is_empty() {
        // Nobody subscribed: nothing to number yet either (numbering is
        // lazy; a read, a new subscription or the purge numbers first).
        return Ok(());
    }
    let last = drive.last_event_seq().await?;
    let now = now_ms();
    for cursor in cursors {
        let app_id = cursor.app_id;
        let ours = cursor.lease_node == Some(drive.node()) && cursor.lease_until_ms > now;
        // Nothing new, or a retry not due yet: no write at all (a lease
        // left unused runs out by itself).
        if cursor.last_seq >= last || cursor.next_attempt_ms > now {
            continue;
        }
        if hub.busy.lock().expect("busy lock").contains(&app_id) {
            continue;
        }
        let channel = match drive.delivery_callback(&app_id).await? {
            Some(callback) => Channel::Callback(Box::new(callback)),
            None => match hub.stream_for(&app_id) {
                Some(connection) => Channel::Stream(connection),
                None => {
                    if ours {
                        // The channel went away: another node may deliver.
                        drive.release_events(&app_id).await?;
                    }
                    continue;
                }
            },
        };
        let busy = Busy::mark(hub, &app_id);
        let drive = drive.clone();
        tokio::spawn(async move {
            if let Err(e) = deliver_batch(&drive, &busy.hub, &app_id, channel).await {
                tracing::warn!(app_id = %app_id, error = %e, "event delivery failed");
            }
            drop(busy);
        });
    }
    Ok(())
}

/// An app a worker is delivering; unmarked when the worker ends, however it
/// ends (a panic included).
struct Busy {
    hub: Arc<Hub>,
    app_id: String,
}

impl Busy {
    fn mark(hub: &Arc<Hub>, app_id: &str) -> Busy {
        hub.busy.lock().expect("busy lock").insert(app_id.to_owned());
        Busy { hub: Arc::clone(hub), app_id: app_id.to_owned() }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.hub.busy.lock() {
            busy.remove(&self.app_id);
        }
    }
}

/// Delivers the app's next batch, in order, stopping at the first failure
/// (retried later from that event) or when another node took the lease.
async fn deliver_batch(
    drive: &Drive,
    hub: &Hub,
    app_id: &str,
    channel: Channel,
) -> orgdrive_core::DriveResult<()> {
    let Some(batch) = drive.claim_events(app_id).await? else { return Ok(()) };
    let mut renewed = Instant::now();
    let mut delivered_to = batch.cursor.last_seq;
    for event in &batch.events {
        // One delivery takes at most ~20 s (send, then the acknowledgement):
        // the lease is renewed so that it never runs out during one.
        if renewed.elapsed() > LEASE_RENEWAL {
            if !drive.renew_events(app_id).await? {
                return Ok(()); // another node took over
            }
            renewed = Instant::now();
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
