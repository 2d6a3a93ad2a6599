//! The chat engine: rooms, one total order of messages per room, fan-out to
//! any number of subscribers, and history behind a [`HistoryStore`].
//!
//! It knows nothing of gRPC: the protocol adapters in `chatd` translate
//! between their wire formats and the types here.
//!
//! Fan-out is pull-based. A room keeps a window of its most recent messages;
//! a [`Subscription`] is only a cursor (the next sequence number it wants)
//! and a wake-up. Posting never waits on a subscriber, an idle subscriber
//! costs a few words, and a subscriber that falls out of the window is
//! caught up from the store — or told it [lagged](SubscriptionError::Lagged)
//! if the store no longer has what it missed. Nothing is dropped silently.

mod access;
mod arrivals;
mod changes;
mod committer;
mod directory;
mod engine;
mod error;
mod limits;
mod members;
mod mentions;
mod message;
mod metrics;
mod names;
mod registry;
mod relay;
mod room;
pub mod search;
pub mod store;
mod subscription;
mod typing;

pub use access::{MAX_TOPIC_CHARS, MOST_GRANTS, Role, RoomAccess, RoomAction, Target};
pub use changes::{Author, reaction_emoji};
pub use directory::{NameClaim, UserHere};
pub use engine::{Census, Engine, EngineConfig, RoomChange, RoomLimits};
pub use error::{EngineError, SubscriptionError};
pub use limits::{Limits, MAX_ATTACHMENTS};
pub use members::{RoomEvent, RoomEvents, RoomEventsError};
pub use message::{
    Attachment, Change, ChangeKind, Draft, Mentions, Message, Origin, Reaction, WireForms,
};
pub use metrics::{EngineMetrics, latency_histogram};
pub use names::name_key;
pub use registry::Names;
pub use relay::{News, NoRelay, Relay};
pub use room::{MOST_MENTIONING, Room};
pub use store::{
    Account, AccountChange, AccountStore, AccountsSnapshot, Entry, FileInfo, Found, Grant,
    HistoryStore, MemoryStore, NotifyLevel, PostgresOptions, PostgresStore, ReadMarker, RoomUpdate,
    SECRET_BYTES, SHORT_SCAN, SHORT_TERM, SavedRoom, SearchPlace, SearchQuery, SentKey,
    SqliteOptions, SqliteStore, StoreError, StoredSession,
};
pub use subscription::{Start, Subscription};
pub use typing::TYPING_LASTS;
