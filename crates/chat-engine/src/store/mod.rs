//! Where a room's history, and everything about accounts, lives. The
//! engine talks to history only through [`HistoryStore`] and `chatd` to
//! accounts only through [`AccountStore`], so the in-memory store and a
//! durable one are interchangeable.

mod memory;
mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

pub use memory::MemoryStore;
pub use postgres::{PostgresOptions, PostgresStore};

/// What else may keep tables in the store's PostgreSQL database (the
/// cluster's ledger) uses these, so its connections and errors are the
/// store's.
pub mod postgres_shared {
    pub use super::postgres::{connection, pool, unavailable};
}
pub use sqlite::{SCHEMA_V1, SqliteOptions, SqliteStore};

use crate::{Change, Message};

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("history is unavailable: {0}")]
    Unavailable(String),
    /// A change about an account that is not stored (it may have been
    /// deleted a moment before, on another node).
    #[error("there is no account `{0}`")]
    NoSuchAccount(String),
    /// An account created under a name that is stored already.
    #[error("the name `{0}` is registered already")]
    AccountExists(String),
}

/// A room that reopens after a restart, with who may do what in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedRoom {
    pub name: String,
    /// The account that owns it, if one does.
    pub owner: Option<String>,
    pub private: bool,
    /// A direct conversation between two accounts.
    pub direct: bool,
    pub topic: String,
    pub grants: Vec<(Grant, String)>,
}

/// What a room grants (or refuses) a user, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grant {
    Moderator,
    Muted,
    Banned,
    Invited,
    /// One of a direct conversation's two accounts.
    Participant,
}

impl Grant {
    pub const ALL: [Grant; 5] = [
        Grant::Moderator,
        Grant::Muted,
        Grant::Banned,
        Grant::Invited,
        Grant::Participant,
    ];

    /// The grant's name in a database.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::Moderator => "moderator",
            Grant::Muted => "muted",
            Grant::Banned => "banned",
            Grant::Invited => "invited",
            Grant::Participant => "participant",
        }
    }

    pub fn parse(text: &str) -> Option<Grant> {
        Grant::ALL.into_iter().find(|grant| grant.as_str() == text)
    }
}

/// One change to the saved rooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomUpdate {
    /// Saves a new room.
    Create(SavedRoom),
    SetTopic {
        room: String,
        topic: String,
    },
    SetOwner {
        room: String,
        owner: Option<String>,
    },
    Grant {
        room: String,
        grant: Grant,
        name: String,
    },
    Revoke {
        room: String,
        grant: Grant,
        name: String,
    },
    /// Forgets the room: it does not reopen, and its messages, grants and
    /// memberships are removed. Its last sequence number is kept, so a
    /// room made later under the name numbers on from it.
    Delete(String),
}

/// What a room's order takes next: a new message, or a change to an
/// earlier one under a number of its own.
#[derive(Debug, Clone)]
pub enum Entry {
    Message(Arc<Message>),
    /// With `ordinal`, the room's messages up to it.
    Change {
        seq: u64,
        ordinal: u64,
        change: Arc<Change>,
    },
}

impl Entry {
    /// The number the entry came with.
    pub fn seq(&self) -> u64 {
        match self {
            Entry::Message(message) => message.seq,
            Entry::Change { seq, .. } => *seq,
        }
    }

    /// The room's messages before this entry.
    pub fn messages_before(&self) -> u64 {
        match self {
            Entry::Message(message) => message.ordinal.saturating_sub(1),
            Entry::Change { ordinal, .. } => *ordinal,
        }
    }
}

/// A message's room, sender and client id: what makes a send unique.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SentKey {
    pub room: String,
    pub sender: String,
    pub client_id: String,
}

/// Keeps every room's messages in sequence order, and the rooms to reopen
/// after a restart.
#[async_trait]
pub trait HistoryStore: Send + Sync + 'static {
    /// Stores a batch of `(room, entry)`, each room's entries in sequence
    /// order. Returns only once all of it is stored, or none of it, with
    /// each entry as stored: under its own number and ordinal, unless
    /// other writers of a shared store (other nodes) stored entries of its
    /// room first, and then each room's entries of the batch follow the
    /// room's stored newest, in their order, their ordinals moved up as
    /// much as the messages stored first. So the order has no gaps and no
    /// doubles however many write.
    ///
    /// A change is applied to the message it names ([`Message::changed`],
    /// on the state stored) and kept as an entry of its own; it comes back
    /// as an update entry ([`Message::updates`]) with the message's new
    /// state. A deleted message's text leaves the store, not only the
    /// view. A change to a message no longer kept is kept as an entry
    /// that reads as a deleted message.
    async fn append(&self, batch: &[(&str, Entry)]) -> Result<Vec<Arc<Message>>, StoreError>;

    /// The sequence number of the newest stored message of `room`, 0 if none,
    /// so a reopened room carries on numbering without reusing a number.
    fn last_seq(&self, room: &str) -> u64;

    /// How many messages (not changes) `room`'s order has held, those
    /// retention removed included: the ordinal of its next message, less
    /// one.
    fn message_count(&self, room: &str) -> u64;

    /// Up to `limit` entries of `room` (messages and changes), oldest
    /// first, starting at the oldest kept entry whose sequence number is
    /// `from` or more. Messages are read in their state now; a change as
    /// an update entry with its message's state now.
    async fn read_from(
        &self,
        room: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError>;

    /// Up to `limit` of the newest kept messages (not changes) of `room`
    /// whose sequence number is below `before`, oldest first, in their
    /// state now.
    async fn read_before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError>;

    /// Up to `limit` of the newest kept messages of `room` that mention
    /// anyone (by name, or `@room`), oldest first: what a room needs to
    /// count its members' unread mentions.
    async fn read_mentioning(
        &self,
        room: &str,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError>;

    /// Up to `query.limit` kept messages (not changes, not deleted) of
    /// `query.rooms` whose text holds every one of `query.terms` (case
    /// aside), newest first (the last the store took first, by
    /// [`SearchPlace`]), before `query.after`, in their state now. Terms of
    /// fewer than [`SHORT_TERM`] characters, when no longer term narrows
    /// the search, may be looked for only among the newest [`SHORT_SCAN`]
    /// messages the store took (no index serves them).
    async fn search(&self, query: &SearchQuery) -> Result<Vec<Found>, StoreError>;

    /// Up to `limit` of the oldest kept messages (not changes) of `room`
    /// whose sequence number is above `after`, oldest first, in their
    /// state now.
    async fn read_after(
        &self,
        room: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError>;

    /// The stored messages sent with a client id, one for each of `sent`
    /// (room, sender, client id) that has one, so a send retried after a
    /// restart finds the message its first try stored.
    async fn find_sent(&self, sent: Vec<SentKey>) -> Result<Vec<Option<Arc<Message>>>, StoreError>;

    /// Keeps file `file` with its bytes `content` (and an image's
    /// thumbnail): the bytes by their hash ([`FileInfo::content_hash`],
    /// [`FileInfo::thumbnail_hash`]), so files with the same bytes share
    /// them. All or none of it is kept.
    async fn put_file(
        &self,
        file: &FileInfo,
        content: Bytes,
        thumbnail: Option<Bytes>,
    ) -> Result<(), StoreError>;

    /// File `id`, if it is kept.
    async fn file(&self, id: &str) -> Result<Option<FileInfo>, StoreError>;

    /// Up to `len` of the bytes kept under `hash` (a file's content or
    /// thumbnail), from byte `from` on (none past the end): a file is
    /// served a piece at a time, never held whole.
    async fn file_bytes(
        &self,
        hash: &str,
        from: u64,
        len: usize,
    ) -> Result<Option<Bytes>, StoreError>;

    /// The size of the files `owner` has kept, thumbnails aside: what its
    /// quota counts.
    async fn files_size(&self, owner: &str) -> Result<u64, StoreError>;

    /// Removes the files that no kept message (not deleted) attaches and
    /// that were uploaded before `uploaded_before_ms` (a file is given
    /// time to be attached), and the bytes no file uses any more, never
    /// those of a file being stored at the same time. Returns how many
    /// files went.
    async fn remove_unused_files(&self, uploaded_before_ms: i64) -> Result<usize, StoreError>;

    /// The secret kept under `name`: [`SECRET_BYTES`] random bytes made
    /// the first time it is asked for, the same from then on, and for
    /// every node of a cluster (what signs links to files).
    async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError>;

    /// Saves rooms, or changes to them, all or none, so they reopen after
    /// a restart as they were.
    async fn update_rooms(&self, updates: Vec<RoomUpdate>) -> Result<(), StoreError>;

    /// The rooms saved with [`update_rooms`](Self::update_rooms), by name.
    async fn saved_rooms(&self) -> Result<Vec<SavedRoom>, StoreError>;

    /// Whether the store answers now (for health checks): the in-memory
    /// store always does.
    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The saved room called `name`, if there is one. (A node of a cluster
    /// reads a room another node created; a store with one writer has
    /// every room open already, so the default scans.)
    async fn saved_room(&self, name: &str) -> Result<Option<SavedRoom>, StoreError> {
        let rooms = self.saved_rooms().await?;
        Ok(rooms.into_iter().find(|room| room.name == name))
    }
}

/// What a search looks for, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Each is found anywhere in a message's text; all must be.
    pub terms: Vec<String>,
    /// The rooms to look in (those the asker may read).
    pub rooms: Vec<String>,
    /// The place of the last hit of the page before, for the next page.
    pub after: Option<SearchPlace>,
    pub limit: usize,
}

impl SearchQuery {
    /// Whether a term is long enough for a text index to serve.
    pub fn has_indexed_term(&self) -> bool {
        (self.terms.iter()).any(|term| term.chars().count() >= SHORT_TERM)
    }
}

/// Where a hit is in the order search results come in: the store's count
/// of the messages it took, so a later message has a greater place. It
/// means something only to the store that gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SearchPlace(pub u64);

/// A message a search found, its room, and its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub room: String,
    pub message: Arc<Message>,
    pub place: SearchPlace,
}

/// Terms shorter than this (in characters) have no index: a trigram needs
/// three.
pub const SHORT_TERM: usize = 3;

/// How many of the newest messages a store took a search of short terms
/// only may be limited to.
pub const SHORT_SCAN: usize = 50_000;

/// How long a store's secrets are.
pub const SECRET_BYTES: usize = 32;

/// A fresh secret, for a store to keep if it has none yet.
pub(crate) fn new_secret() -> Vec<u8> {
    let mut secret = vec![0; SECRET_BYTES];
    rand::fill(&mut secret[..]);
    secret
}

/// A file an account uploaded, as kept: what it is, and the hashes its
/// bytes are kept under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Chosen at upload, not guessable.
    pub id: String,
    /// The account that uploaded it: only it may attach it.
    pub owner: String,
    /// As the uploader named it.
    pub name: String,
    /// Taken from its content, not from the uploader.
    pub mime_type: String,
    pub size: u64,
    /// An image's size in pixels; 0 for other files.
    pub width: u32,
    pub height: u32,
    pub uploaded_at_ms: i64,
    /// The SHA-256 of its bytes, in hex.
    pub content_hash: String,
    /// That of its thumbnail, for an image.
    pub thumbnail_hash: Option<String>,
}

/// A registered name and what logs in to it.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    /// The password's Argon2id hash, in PHC string form.
    pub password_hash: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    /// A locked account cannot log in.
    pub locked: bool,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash stays out of logs.
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("locked", &self.locked)
            .finish_non_exhaustive()
    }
}

/// A login session of an account, as stored: its token only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// SHA-256 of the session token, in hex.
    pub token_hash: String,
    pub account: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub last_used_at: i64,
}

/// Everything about accounts, as read at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountsSnapshot {
    pub accounts: Vec<Account>,
    pub sessions: Vec<StoredSession>,
    /// `(account, room)`: the rooms each account is in.
    pub memberships: Vec<(String, String)>,
    /// Where each account has read each room to.
    pub read_markers: Vec<ReadMarker>,
    /// `(account, room, level)`: the rooms whose notifications an account
    /// set (the others are at the default).
    pub notify_levels: Vec<(String, String, NotifyLevel)>,
}

/// Where an account has read a room to: the entry numbered `seq`, after
/// `ordinal` messages of the room's order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadMarker {
    pub account: String,
    pub room: String,
    pub seq: u64,
    pub ordinal: u64,
}

/// What a room tells a user about: every message, only those that
/// mention it, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotifyLevel {
    All,
    Mentions,
    Nothing,
}

impl NotifyLevel {
    /// The level's name in a database.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::Nothing => "none",
        }
    }

    pub fn parse(text: &str) -> Option<NotifyLevel> {
        [
            NotifyLevel::All,
            NotifyLevel::Mentions,
            NotifyLevel::Nothing,
        ]
        .into_iter()
        .find(|level| level.as_str() == text)
    }
}

/// One change to what is stored about accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    CreateAccount(Account),
    SetPassword {
        account: String,
        password_hash: String,
    },
    SetLocked {
        account: String,
        locked: bool,
    },
    /// Removes the account with its sessions, memberships, read markers
    /// and notification levels.
    DeleteAccount(String),
    /// Adds a session, or updates its last use.
    SaveSession(StoredSession),
    /// Records when each session (by token hash) was last used.
    TouchSessions(Vec<(String, i64)>),
    /// Removes sessions by token hash.
    DeleteSessions(Vec<String>),
    Join {
        account: String,
        room: String,
    },
    /// Ends a membership, with the account's read marker and notification
    /// level in the room.
    Leave {
        account: String,
        room: String,
    },
    /// The account has read a room up to a place: kept if it is further
    /// than the marker stored, which never moves back.
    MarkRead(ReadMarker),
    /// What `room` tells the account about.
    SetNotify {
        account: String,
        room: String,
        level: NotifyLevel,
    },
}

/// Keeps accounts, their sessions and the rooms they are in. `chatd` reads
/// it all once at start and writes every change through.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Everything stored about accounts.
    async fn load_accounts(&self) -> Result<AccountsSnapshot, StoreError>;

    /// Stores `change`; returns once it is stored. Creating an account
    /// whose name is stored fails with [`StoreError::AccountExists`];
    /// saving a session of, or joining a room as, an account that is not
    /// stored fails with [`StoreError::NoSuchAccount`], and so does a read
    /// marker or a notification level of one. Deleting an account deletes
    /// its sessions, memberships, markers and levels with it; deleting a
    /// room ([`RoomUpdate::Delete`]) deletes its markers and levels.
    async fn change_accounts(&self, change: AccountChange) -> Result<(), StoreError>;

    /// The account registered as `name`, if there is one, with its
    /// sessions. (A node of a cluster reads an account another node
    /// changed; a store with one writer never needs to, so the default
    /// reads everything.)
    async fn load_account(
        &self,
        name: &str,
    ) -> Result<Option<(Account, Vec<StoredSession>)>, StoreError> {
        let snapshot = self.load_accounts().await?;
        Ok(snapshot
            .accounts
            .into_iter()
            .find(|account| account.name == name)
            .map(|account| {
                let sessions = snapshot
                    .sessions
                    .into_iter()
                    .filter(|session| session.account == name)
                    .collect();
                (account, sessions)
            }))
    }
}
