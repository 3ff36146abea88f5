//! Events: SubscribeEvent / UnsubscribeEvent (who may subscribe to what),
//! the admin plane's HTTP callback setting, the Stream-mode tickets, and
//! what the delivery workers need — an app's next events that it may still
//! see, in commit order, under its delivery lease, with retries backing off.
//! The events themselves are written by the store in the transaction of each
//! change (the outbox); how they travel is the server's business.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::Operator;
use crate::clock::now_ms;
use crate::error::{DriveError, DriveResult};
use crate::ids::random_token;
use crate::policy::{Operation, Place};
use crate::Drive;
use orgdrive_store::{
    AppRecord, CallbackRecord, CursorRecord, EventRecord, EventScope, SubscriptionRecord,
};

/// How long a node holds an app's delivery once it took it (renewed while
/// it delivers); another node takes over after a crash within this.
pub const DELIVERY_LEASE_MS: i64 = 30_000;
/// Events handed to a worker at once.
pub const DELIVERY_BATCH: u32 = 100;
/// Events looked at per batch when few are the app's.
const SCAN_WINDOW: i64 = 10_000;
/// First retry after a failed delivery; doubled per failure up to the cap.
pub const RETRY_FIRST_MS: i64 = 1_000;
pub const RETRY_MAX_MS: i64 = 5 * 60 * 1000;
/// How long events are kept for receivers that stay away (and at most how
/// many): older ones are purged, and an app that comes back later misses them.
pub const EVENT_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;
pub const EVENT_RETENTION_COUNT: i64 = 1_000_000;
/// A Stream-mode ticket is good for one connection within this.
pub const STREAM_TICKET_TTL_MS: i64 = 5 * 60 * 1000;
/// Longest callback URL.
const MAX_CALLBACK_URL: usize = 2048;
const MAX_CALLBACK_TOKEN: usize = 128;

/// The next events an app may receive, taken under its delivery lease.
#[derive(Debug, Clone)]
pub struct EventBatch {
    pub app: AppRecord,
    pub cursor: CursorRecord,
    /// In commit order; each is acknowledged by moving the cursor to its `seq`.
    pub events: Vec<EventRecord>,
    /// Where the cursor may go once `events` are delivered (past events that
    /// are not the app's, or that it may no longer see).
    pub done_to: i64,
}

/// A genuine, unexpired Stream-mode ticket.
#[derive(Debug, Clone)]
pub struct StreamTicket {
    pub app: AppRecord,
    nonce: String,
    expires_ms: i64,
    /// Whether the connection takes events (it subscribed to `EVENT`).
    pub takes_events: bool,
}

/// An app's HTTP callback as the admin plane sets it.
#[derive(Debug, Clone)]
pub struct CallbackInput {
    pub url: String,
    pub token: String,
    pub aes_key: String,
}

fn parse_scope(scope: Option<&str>, scope_id: Option<&str>) -> DriveResult<(EventScope, String)> {
    let scope = scope
        .filter(|s| !s.is_empty())
        .ok_or_else(|| DriveError::param("scope", "scope is required: ORG or SPACE"))?;
    let scope = EventScope::parse(scope)
        .ok_or_else(|| DriveError::param("scope", "scope must be ORG or SPACE"))?;
    let scope_id = scope_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| DriveError::param("scopeId", "scopeId is required"))?;
    if scope_id.len() > 64 {
        return Err(DriveError::param("scopeId", "scopeId is at most 64 characters"));
    }
    Ok((scope, scope_id.to_owned()))
}

impl Drive {
    /// SubscribeEvent: idempotent. `ORG` takes the operator's own org (the
    /// events of every space of it that belongs to the calling app); `SPACE`
    /// a space the operator may read (its events reach the app while the
    /// operator still may).
    pub async fn subscribe_event(
        &self,
        op: &Operator,
        scope: Option<&str>,
        scope_id: Option<&str>,
    ) -> DriveResult<()> {
        let (scope, scope_id) = parse_scope(scope, scope_id)?;
        self.check_event_scope(op, scope, &scope_id).await?;
        let subscription = SubscriptionRecord {
            corp_id: op.corp_id().to_owned(),
            app_id: op.app.app_id.clone(),
            scope,
            scope_id,
            operator_id: op.user.union_id.clone(),
            from_seq: 0,
            created_at: now_ms(),
        };
        self.meta.subscribe(&subscription).await?;
        Ok(())
    }

    /// UnsubscribeEvent: idempotent (a scope not subscribed succeeds).
    pub async fn unsubscribe_event(
        &self,
        op: &Operator,
        scope: Option<&str>,
        scope_id: Option<&str>,
    ) -> DriveResult<()> {
        let (scope, scope_id) = parse_scope(scope, scope_id)?;
        if scope == EventScope::Org && scope_id != op.corp_id() {
            return Err(DriveError::param("scopeId", "scopeId must be the caller's corpId"));
        }
        self.meta.unsubscribe(&op.app.app_id, scope, &scope_id).await?;
        Ok(())
    }

    async fn check_event_scope(
        &self,
        op: &Operator,
        scope: EventScope,
        scope_id: &str,
    ) -> DriveResult<()> {
        match scope {
            EventScope::Org if scope_id == op.corp_id() => Ok(()),
            EventScope::Org => {
                Err(DriveError::param("scopeId", "scopeId must be the caller's corpId"))
            }
            EventScope::Space => {
                let space = self.space_for(op, scope_id).await.map_err(|e| match e {
                    DriveError::NotFound { message, .. } => {
                        DriveError::NotFound { field: "scopeId", message }
                    }
                    e => e,
                })?;
                self.authorize(op, &space, Place::Root, Operation::SubscribeEvents).await?;
                Ok(())
            }
        }
    }

    /// The cursors of every app with a subscription (what may need delivery).
    pub async fn event_cursors(&self) -> DriveResult<Vec<CursorRecord>> {
        Ok(self.meta.event_cursors().await?)
    }

    /// Takes the app's delivery lease for this node and its next events, if
    /// the lease is free (or ours) and a retry is due; `None` otherwise.
    pub async fn claim_events(&self, app_id: &str) -> DriveResult<Option<EventBatch>> {
        let now = now_ms();
        let Some(cursor) =
            self.meta.lease_cursor(app_id, self.node, now, now + DELIVERY_LEASE_MS).await?
        else {
            return Ok(None);
        };
        if cursor.next_attempt_ms > now {
            return Ok(None);
        }
        let Some(app) = self.app_record(&cursor.corp_id, app_id).await? else {
            return Ok(None);
        };
        let page =
            self.meta.pending_events(app_id, cursor.last_seq, DELIVERY_BATCH, SCAN_WINDOW).await?;
        let subscriptions = self.meta.subscriptions(app_id).await?;
        let mut readers: HashMap<String, bool> = HashMap::new();
        let mut events = Vec::with_capacity(page.events.len());
        for event in page.events {
            if self.app_may_see(&app, &subscriptions, &event, &mut readers).await? {
                events.push(event);
            }
        }
        Ok(Some(EventBatch { app, cursor, events, done_to: page.scanned_to }))
    }

    /// Whether the app still may see the event: its own spaces' events come
    /// through an `ORG` subscription; another space's only through a `SPACE`
    /// subscription whose operator still may read that space.
    async fn app_may_see(
        &self,
        app: &AppRecord,
        subscriptions: &[SubscriptionRecord],
        event: &EventRecord,
        readers: &mut HashMap<String, bool>,
    ) -> DriveResult<bool> {
        let spaces = [Some(&event.space_id), event.previous_space_id.as_ref()];
        let apps = [Some(&event.app_id), event.previous_app_id.as_ref()];
        for s in subscriptions.iter().filter(|s| s.from_seq < event.seq) {
            match s.scope {
                EventScope::Org => {
                    if s.scope_id == event.corp_id && apps.contains(&Some(&app.app_id)) {
                        return Ok(true);
                    }
                }
                EventScope::Space => {
                    if !spaces.contains(&Some(&s.scope_id)) {
                        continue;
                    }
                    let key = format!("{}\n{}", s.scope_id, s.operator_id);
                    let may = match readers.get(&key) {
                        Some(may) => *may,
                        None => {
                            let may = self.may_read_space(app, &s.operator_id, &s.scope_id).await?;
                            readers.insert(key, may);
                            may
                        }
                    };
                    if may {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    async fn may_read_space(
        &self,
        app: &AppRecord,
        union_id: &str,
        space_id: &str,
    ) -> DriveResult<bool> {
        let Some(user) = self.meta.get_user(&app.corp_id, union_id).await? else {
            return Ok(false);
        };
        let Some(space) = self.meta.get_space(space_id).await? else { return Ok(false) };
        let op = Operator { app: app.clone(), user };
        match self.authorize(&op, &space, Place::Root, Operation::SubscribeEvents).await {
            Ok(_) => Ok(true),
            Err(DriveError::PermissionDenied(_) | DriveError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn app_record(&self, corp_id: &str, app_id: &str) -> DriveResult<Option<AppRecord>> {
        Ok(self.meta.list_apps(corp_id).await?.into_iter().find(|a| a.app_id == app_id))
    }

    /// Renews the app's lease for this node; false if another node holds it.
    pub async fn renew_events(&self, app_id: &str) -> DriveResult<bool> {
        let now = now_ms();
        let lease = self.meta.lease_cursor(app_id, self.node, now, now + DELIVERY_LEASE_MS).await?;
        Ok(lease.is_some())
    }

    /// The last committed event's `seq`: a cursor there has nothing to do.
    pub async fn last_event_seq(&self) -> DriveResult<i64> {
        Ok(self.meta.last_event_seq().await?)
    }

    /// This node's number (whose leases are ours).
    pub fn node(&self) -> i64 {
        self.node
    }

    /// Moves the app's cursor to `seq` (its events up to there were
    /// delivered); false if this node no longer holds the app's lease.
    pub async fn events_delivered(&self, app_id: &str, seq: i64) -> DriveResult<bool> {
        Ok(self.meta.advance_cursor(app_id, self.node, seq).await?)
    }

    /// Records a failed delivery: the next attempt after a delay doubling
    /// per failure (1 s up to 5 min). `error` must hold no secret.
    pub async fn events_failed(&self, cursor: &CursorRecord, error: &str) -> DriveResult<i64> {
        let shift = cursor.attempts.clamp(0, 20) as u32;
        let delay = (RETRY_FIRST_MS << shift).min(RETRY_MAX_MS);
        let error: String = error.chars().take(500).collect();
        self.meta.cursor_failed(&cursor.app_id, self.node, now_ms() + delay, &error).await?;
        Ok(delay)
    }

    /// Gives the app's lease up (its channel went away).
    pub async fn release_events(&self, app_id: &str) -> DriveResult<()> {
        Ok(self.meta.release_cursor(app_id, self.node).await?)
    }

    /// Drops events past their retention (part of the sweep).
    pub(crate) async fn purge_old_events(&self) -> DriveResult<u64> {
        let before = now_ms() - EVENT_RETENTION_MS;
        Ok(self.meta.purge_events(before, EVENT_RETENTION_COUNT).await?)
    }

    /// Stream mode, step 1 (`POST /v1.0/gateway/connections/open`): checks
    /// the app's key and secret and answers a ticket for one connection.
    /// `events`: whether the connection takes events (it subscribed to the
    /// `EVENT` type).
    pub async fn open_stream(
        &self,
        app_key: &str,
        app_secret: &str,
        events: bool,
    ) -> DriveResult<String> {
        let app = self.authenticate_app(app_key, app_secret).await?;
        let expires = now_ms() + STREAM_TICKET_TTL_MS;
        let flag = if events { "e" } else { "-" };
        let body = format!("{}.{}.{}.{}", random_token(), expires, flag, app.app_key);
        let mac = self.ticket_mac(&body);
        Ok(format!("{body}.{mac}"))
    }

    /// Stream mode, step 2: the ticket's app, if the ticket is genuine and
    /// not expired (whether it was used already is
    /// [`Drive::redeem_stream_ticket`]'s to say).
    pub async fn check_stream_ticket(&self, ticket: &str) -> DriveResult<StreamTicket> {
        let refused =
            || DriveError::InvalidAuthentication("the ticket is invalid or expired".into());
        let (body, mac) = ticket.rsplit_once('.').ok_or_else(refused)?;
        let expected = self.ticket_mac(body);
        if !constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
            return Err(refused());
        }
        let mut parts = body.splitn(4, '.');
        let (Some(nonce), Some(expires), Some(flag), Some(app_key)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused());
        };
        let expires_ms: i64 = expires.parse().map_err(|_| refused())?;
        if expires_ms <= now_ms() {
            return Err(refused());
        }
        let app = self.meta.get_app_by_key(app_key).await?.ok_or_else(refused)?;
        // Issued before the app's secret was last rotated (the only change
        // of an app): the secret it was issued for no longer opens streams.
        if expires_ms - STREAM_TICKET_TTL_MS <= app.modified_at {
            return Err(refused());
        }
        Ok(StreamTicket { app, nonce: nonce.to_owned(), expires_ms, takes_events: flag == "e" })
    }

    /// Uses the ticket up: once, on every node sharing the store and across
    /// restarts (its nonce is kept until it expires).
    pub async fn redeem_stream_ticket(&self, ticket: &StreamTicket) -> DriveResult<()> {
        if self.meta.redeem_ticket(&ticket.nonce, ticket.expires_ms, now_ms()).await? {
            Ok(())
        } else {
            Err(DriveError::param("ticket", "the ticket was used already"))
        }
    }

    fn ticket_mac(&self, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.options.signing_key)
            .expect("HMAC takes keys of any length");
        mac.update(b"orgdrive stream ticket\n");
        mac.update(body.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The admin plane, step 1: the callback an app would get (checked
    /// field by field); the server then checks the URL answers before
    /// [`Drive::set_event_callback`]. The URL must be `http://` (orgdrive
    /// speaks no TLS to receivers yet: put a TLS-terminating proxy in
    /// between), the `aesKey` 43 characters of base64 (a 32-byte key), the
    /// `token` 1 to 128 printable characters.
    pub async fn check_event_callback(
        &self,
        corp_id: &str,
        app_id: &str,
        input: CallbackInput,
    ) -> DriveResult<CallbackRecord> {
        let app = self.configurable_app(corp_id, app_id).await?;
        check_callback(&input)?;
        Ok(CallbackRecord {
            corp_id: corp_id.to_owned(),
            app_id: app_id.to_owned(),
            url: input.url,
            token: input.token,
            aes_key: input.aes_key,
            owner_key: app.app_key,
            created_at: now_ms(),
        })
    }

    /// The admin plane, step 2: sets (or with `None` removes) the app's
    /// callback.
    pub async fn set_event_callback(
        &self,
        corp_id: &str,
        app_id: &str,
        callback: Option<CallbackRecord>,
    ) -> DriveResult<Option<CallbackRecord>> {
        self.configurable_app(corp_id, app_id).await?;
        self.meta.set_callback(app_id, callback.as_ref()).await?;
        Ok(callback)
    }

    async fn known_app(&self, corp_id: &str, app_id: &str) -> DriveResult<AppRecord> {
        self.app_record(corp_id, app_id)
            .await?
            .ok_or_else(|| DriveError::not_found("appId", format!("app {app_id} not found")))
    }

    /// An app whose event settings the admin plane may change: not the
    /// org's console app (the server's own; nobody receives its events).
    async fn configurable_app(&self, corp_id: &str, app_id: &str) -> DriveResult<AppRecord> {
        let app = self.known_app(corp_id, app_id).await?;
        if crate::identity::is_console_app(&app) {
            return Err(DriveError::InUse(format!(
                "app {app_id} is the organization's console app, which the server keeps"
            )));
        }
        Ok(app)
    }

    /// The app's HTTP callback, if it has one (admin plane).
    pub async fn event_callback(
        &self,
        corp_id: &str,
        app_id: &str,
    ) -> DriveResult<Option<CallbackRecord>> {
        self.known_app(corp_id, app_id).await?;
        Ok(self.meta.get_callback(app_id).await?)
    }

    /// The app's event subscriptions (admin plane: the operators' console).
    pub async fn event_subscriptions(
        &self,
        corp_id: &str,
        app_id: &str,
    ) -> DriveResult<Vec<SubscriptionRecord>> {
        self.known_app(corp_id, app_id).await?;
        Ok(self.meta.subscriptions(app_id).await?)
    }

    /// The admin plane: SubscribeEvent for the app as the user `union_id`
    /// (the user whose right to read a `SPACE` scope keeps its events
    /// flowing), under the same checks as the API's.
    pub async fn subscribe_event_for(
        &self,
        corp_id: &str,
        app_id: &str,
        union_id: &str,
        scope: Option<&str>,
        scope_id: Option<&str>,
    ) -> DriveResult<()> {
        let app = self.configurable_app(corp_id, app_id).await?;
        let user = self.meta.get_user(corp_id, union_id).await?.ok_or_else(|| {
            DriveError::not_found("unionId", format!("user {union_id} does not exist"))
        })?;
        self.subscribe_event(&Operator { app, user }, scope, scope_id).await
    }

    /// The admin plane: UnsubscribeEvent for the app (idempotent).
    pub async fn unsubscribe_event_for(
        &self,
        corp_id: &str,
        app_id: &str,
        scope: Option<&str>,
        scope_id: Option<&str>,
    ) -> DriveResult<()> {
        self.configurable_app(corp_id, app_id).await?;
        let (scope, scope_id) = parse_scope(scope, scope_id)?;
        self.meta.unsubscribe(app_id, scope, &scope_id).await?;
        Ok(())
    }

    /// The callback events of the app go to, if any (delivery).
    pub async fn delivery_callback(&self, app_id: &str) -> DriveResult<Option<CallbackRecord>> {
        Ok(self.meta.get_callback(app_id).await?)
    }
}

fn check_callback(input: &CallbackInput) -> DriveResult<()> {
    let url = &input.url;
    if !url.starts_with("http://")
        || url.len() > MAX_CALLBACK_URL
        || url.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(DriveError::param(
            "url",
            "url must be an http:// URL of at most 2048 characters (https: through a proxy)",
        ));
    }
    let token = &input.token;
    if token.is_empty()
        || token.len() > MAX_CALLBACK_TOKEN
        || !token.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(DriveError::param(
            "token",
            "token must be 1 to 128 printable ASCII characters",
        ));
    }
    let key = &input.aes_key;
    let base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    if key.len() != 43 || !key.chars().all(base64) {
        return Err(DriveError::param("aesKey", "aesKey must be 43 characters of base64"));
    }
    Ok(())
}

/// Compares two secrets in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str, token: &str, aes_key: &str) -> CallbackInput {
        CallbackInput { url: url.into(), token: token.into(), aes_key: aes_key.into() }
    }

    #[test]
    fn callbacks_are_checked_field_by_field() {
        let key = "a".repeat(43);
        assert!(check_callback(&input("http://127.0.0.1:9/cb", "tok", &key)).is_ok());
        let field = |i: CallbackInput| match check_callback(&i) {
            Err(DriveError::InvalidParam { field, .. }) => field.unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(input("ftp://x", "tok", &key)), "url");
        assert_eq!(field(input("https://x", "tok", &key)), "url");
        assert_eq!(field(input("http://x/\n", "tok", &key)), "url");
        assert_eq!(field(input("http://x", "", &key)), "token");
        assert_eq!(field(input("http://x", "t ok", &key)), "token");
        assert_eq!(field(input("http://x", "tok", &"a".repeat(44))), "aesKey");
        assert_eq!(field(input("http://x", "tok", &format!("{}=", "a".repeat(42)))), "aesKey");
    }

    #[test]
    fn scopes_need_both_fields() {
        assert!(matches!(
            parse_scope(None, Some("x")),
            Err(DriveError::InvalidParam { field: Some(f), .. }) if f == "scope"
        ));
        assert!(matches!(
            parse_scope(Some("APP"), Some("x")),
            Err(DriveError::InvalidParam { field: Some(f), .. }) if f == "scope"
        ));
        assert!(matches!(
            parse_scope(Some("ORG"), Some("")),
            Err(DriveError::InvalidParam { field: Some(f), .. }) if f == "scopeId"
        ));
        assert_eq!(parse_scope(Some("SPACE"), Some("7")).unwrap(), (EventScope::Space, "7".into()));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
