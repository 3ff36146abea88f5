//! Records of events: the outbox rows a backend writes in the transaction of
//! every change that produces one (so there is no change without its event
//! and no event without its change, across a crash too), the apps'
//! subscriptions, each app's delivery cursor with its lease (so that one node
//! at a time delivers an app's events, in commit order), and the HTTP
//! callback an app registered. What an event means on the wire and how it is
//! delivered is the domain's and the server's business.

/// What a change did. The spellings are orgdrive's (DingTalk does not
/// publish its storage events' payloads); README lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A folder was created or a file committed under a new name.
    DentryCreated,
    /// A copy was made (the event names the copy; `source_*` the original).
    DentryCopied,
    /// A file got a new version (CommitFile over it, a revert, a WOPI save).
    VersionAdded,
    DentryRenamed,
    /// Moved to another folder or space (`previous_*` say where from).
    DentryMoved,
    /// Moved to the recycle bin (`recycle_item_id`).
    DentryRecycled,
    /// Restored from the recycle bin.
    DentryRestored,
    /// Deleted for good (directly, or purged from the recycle bin).
    DentryDeleted,
    /// A member's grant on the dentry was added, changed or removed
    /// (`member_*`, `role`; `role` is `None` when removed).
    PermissionChanged,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::DentryCreated,
        EventType::DentryCopied,
        EventType::VersionAdded,
        EventType::DentryRenamed,
        EventType::DentryMoved,
        EventType::DentryRecycled,
        EventType::DentryRestored,
        EventType::DentryDeleted,
        EventType::PermissionChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::DentryCreated => "storage_dentry_created",
            EventType::DentryCopied => "storage_dentry_copied",
            EventType::VersionAdded => "storage_dentry_version_added",
            EventType::DentryRenamed => "storage_dentry_renamed",
            EventType::DentryMoved => "storage_dentry_moved",
            EventType::DentryRecycled => "storage_dentry_recycled",
            EventType::DentryRestored => "storage_dentry_restored",
            EventType::DentryDeleted => "storage_dentry_deleted",
            EventType::PermissionChanged => "storage_permission_changed",
        }
    }

    pub fn parse(raw: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// One committed change, as its outbox row holds it: the dentry as the
/// change left it (or as it was, for deletions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Commit order across the whole store (assigned by the store).
    pub seq: i64,
    /// Unique, unguessable (assigned by the store): receivers de-duplicate by
    /// it. 32 hex digits: `at_ms` in the first 12, then random ones, so an
    /// event of a later millisecond has a greater id (an index on the ids
    /// grows at its right edge).
    pub event_id: String,
    pub event_type: EventType,
    pub corp_id: String,
    /// The app the space belongs to.
    pub app_id: String,
    pub space_id: String,
    /// `0` for a grant on the space root.
    pub dentry_id: String,
    /// The operator's unionId.
    pub operator_id: String,
    pub at_ms: i64,
    pub parent_id: Option<String>,
    pub name: Option<String>,
    /// `FILE` or `FOLDER`.
    pub dentry_type: Option<String>,
    pub size: Option<i64>,
    pub version: Option<i64>,
    /// Moves: where the dentry was (space, its app, folder, name).
    pub previous_space_id: Option<String>,
    pub previous_app_id: Option<String>,
    pub previous_parent_id: Option<String>,
    pub previous_name: Option<String>,
    /// Copies: the original.
    pub source_space_id: Option<String>,
    pub source_dentry_id: Option<String>,
    pub recycle_item_id: Option<String>,
    /// Permission changes.
    pub member_type: Option<String>,
    pub member_id: Option<String>,
    pub role: Option<String>,
}

/// SubscribeEvent's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventScope {
    /// Every space of the org that belongs to the subscribing app.
    Org,
    /// One space.
    Space,
}

impl EventScope {
    pub fn as_str(self) -> &'static str {
        match self {
            EventScope::Org => "ORG",
            EventScope::Space => "SPACE",
        }
    }

    pub fn parse(raw: &str) -> Option<EventScope> {
        match raw {
            "ORG" => Some(EventScope::Org),
            "SPACE" => Some(EventScope::Space),
            _ => None,
        }
    }
}

/// An app's subscription: it receives the events committed after it was
/// made (`from_seq`) in its scope. Key: (`app_id`, `scope`, `scope_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub corp_id: String,
    pub app_id: String,
    pub scope: EventScope,
    /// corpId for `Org`, spaceId for `Space`.
    pub scope_id: String,
    /// Who subscribed (a `Space` subscription delivers only while this user
    /// may still read the space).
    pub operator_id: String,
    /// Events with a larger `seq` are delivered (set by the store).
    pub from_seq: i64,
    pub created_at: i64,
}

/// An app's delivery position. Events up to `last_seq` were delivered (or
/// were not the app's); the next one is retried at `next_attempt_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorRecord {
    pub corp_id: String,
    pub app_id: String,
    pub last_seq: i64,
    /// Failed attempts at the event after `last_seq` (0 after a success).
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    /// The node delivering the app's events, until `lease_until_ms`.
    pub lease_node: Option<i64>,
    pub lease_until_ms: i64,
}

/// A page of an app's events after its cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// The app's events (in `seq` order) among those looked at.
    pub events: Vec<EventRecord>,
    /// The last `seq` looked at: when `events` is empty, everything up to
    /// here is not the app's and the cursor may move past it.
    pub scanned_to: i64,
}

/// An app's encrypted HTTP callback (DingTalk's callback format). `token`
/// and `aes_key` are secrets: they sign and encrypt every push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRecord {
    pub corp_id: String,
    pub app_id: String,
    pub url: String,
    pub token: String,
    /// 43 characters of base64 (a 32-byte AES key without its `=`).
    pub aes_key: String,
    /// The owner key appended to every plaintext: the app's appKey.
    pub owner_key: String,
    pub created_at: i64,
}

impl EventRecord {
    /// An event with only what every event has (the store fills in `seq`,
    /// `event_id` and `app_id`); the other fields are set where the event
    /// type has them.
    pub fn new(
        event_type: EventType,
        corp_id: &str,
        space_id: &str,
        dentry_id: &str,
        operator_id: &str,
        at_ms: i64,
    ) -> EventRecord {
        EventRecord {
            seq: 0,
            event_id: String::new(),
            event_type,
            corp_id: corp_id.to_owned(),
            app_id: String::new(),
            space_id: space_id.to_owned(),
            dentry_id: dentry_id.to_owned(),
            operator_id: operator_id.to_owned(),
            at_ms,
            parent_id: None,
            name: None,
            dentry_type: None,
            size: None,
            version: None,
            previous_space_id: None,
            previous_app_id: None,
            previous_parent_id: None,
            previous_name: None,
            source_space_id: None,
            source_dentry_id: None,
            recycle_item_id: None,
            member_type: None,
            member_id: None,
            role: None,
        }
    }

    /// The event of a change to `dentry`, as it is after the change.
    pub fn of_dentry(
        event_type: EventType,
        corp_id: &str,
        dentry: &crate::DentryRecord,
        operator_id: &str,
        at_ms: i64,
    ) -> EventRecord {
        let (space, id) = (&dentry.space_id, &dentry.dentry_id);
        EventRecord {
            parent_id: Some(dentry.parent_id.clone()),
            name: Some(dentry.name.clone()),
            dentry_type: Some(dentry.kind.clone()),
            size: Some(dentry.size),
            version: Some(dentry.version),
            ..EventRecord::new(event_type, corp_id, space, id, operator_id, at_ms)
        }
    }

    /// The event of a recycle item's dentry (moved to the bin, restored
    /// from it, or purged from it).
    pub fn of_recycle_item(
        event_type: EventType,
        item: &crate::RecycleItemRecord,
        operator_id: &str,
        at_ms: i64,
    ) -> EventRecord {
        let (corp, space, id) = (&item.corp_id, &item.space_id, &item.dentry_id);
        EventRecord {
            parent_id: Some(item.parent_id.clone()),
            name: Some(item.name.clone()),
            dentry_type: Some(item.kind.clone()),
            size: Some(item.size),
            recycle_item_id: Some(item.recycle_item_id.clone()),
            ..EventRecord::new(event_type, corp, space, id, operator_id, at_ms)
        }
    }
}

/// The event of a grant written (`role` = the new role) or revoked
/// (`role` = `None`) on `dentry_id` (`0` = the space root).
pub struct GrantChange<'a> {
    pub corp_id: &'a str,
    pub space_id: &'a str,
    pub dentry_id: &'a str,
    pub member_type: &'a str,
    pub member_id: &'a str,
    pub role: Option<&'a str>,
    pub operator_id: &'a str,
    pub at_ms: i64,
}

impl From<GrantChange<'_>> for EventRecord {
    fn from(g: GrantChange<'_>) -> EventRecord {
        let kind = EventType::PermissionChanged;
        EventRecord {
            member_type: Some(g.member_type.to_owned()),
            member_id: Some(g.member_id.to_owned()),
            role: g.role.map(str::to_owned),
            ..EventRecord::new(kind, g.corp_id, g.space_id, g.dentry_id, g.operator_id, g.at_ms)
        }
    }
}
