use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::broadcast;

use crate::committer::Committer;
use crate::directory::Directory;
use crate::{
    EngineError, HistoryStore, Limits, Message, NameClaim, PresenceChange, Room, StoreError,
};

/// How many room openings and closings a slow watcher may fall behind.
const ROOM_CHANGE_BACKLOG: usize = 256;

/// A room opening or closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomChange {
    Opened(String),
    Closed(String),
}

/// Settings of the engine as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    pub limits: Limits,
    /// How many of each room's newest messages are kept in memory for
    /// fan-out and fast replay; older ones are read from the store.
    pub window_len: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            limits: Limits::default(),
            window_len: 4096,
        }
    }
}

/// A cheap-to-clone handle to the engine's shared state: the open rooms and
/// the history store behind them.
#[derive(Clone, Debug)]
pub struct Engine {
    shared: Arc<Shared>,
}

struct Shared {
    config: EngineConfig,
    store: Arc<dyn HistoryStore>,
    committer: Committer,
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    room_changes: broadcast::Sender<RoomChange>,
    directory: Arc<Directory>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("rooms", &self.rooms().len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn rooms(&self) -> MutexGuard<'_, HashMap<String, Arc<Room>>> {
        // Map updates are single calls, never left half-done by a panic.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Engine {
    /// An engine over `store`. Starts the task that stores and publishes
    /// messages, so it must be called within a tokio runtime.
    pub fn new(config: EngineConfig, store: Arc<dyn HistoryStore>) -> Self {
        Engine {
            shared: Arc::new(Shared {
                config,
                committer: Committer::start(Arc::clone(&store)),
                store,
                rooms: Mutex::default(),
                room_changes: broadcast::channel(ROOM_CHANGE_BACKLOG).0,
                directory: Arc::default(),
            }),
        }
    }

    /// The open room called `name`, opened now if it was not.
    pub fn room(&self, name: &str) -> Arc<Room> {
        let mut rooms = self.shared.rooms();
        if let Some(room) = rooms.get(name) {
            return Arc::clone(room);
        }
        let room = Arc::new(Room::open(
            name.to_owned(),
            self.shared.config.limits,
            self.shared.config.window_len,
            Arc::clone(&self.shared.store),
            self.shared.committer.clone(),
        ));
        rooms.insert(name.to_owned(), Arc::clone(&room));
        // Under the map's lock, so watchers hear openings and closings in
        // the order they happened. No watcher is fine.
        let _ = self
            .shared
            .room_changes
            .send(RoomChange::Opened(name.to_owned()));
        tracing::debug!(room = name, "room opened");
        room
    }

    /// Opens room `name` and saves it, so it is open again after a restart.
    pub async fn create_room(&self, name: &str) -> Result<Arc<Room>, EngineError> {
        self.shared.store.save_room(name).await?;
        Ok(self.room(name))
    }

    /// Opens every room saved by [`create_room`](Self::create_room).
    pub fn open_saved_rooms(&self) {
        for name in self.shared.store.saved_rooms() {
            self.room(&name);
        }
    }

    /// The open room called `name`, if there is one.
    pub fn find_room(&self, name: &str) -> Option<Arc<Room>> {
        self.shared.rooms().get(name).cloned()
    }

    /// Closes the room called `name` and forgets it; its subscribers finish
    /// what was posted and are then told it closed. Its history stays in the
    /// store. Returns whether the room was open.
    pub fn close_room(&self, name: &str) -> bool {
        let room = {
            let mut rooms = self.shared.rooms();
            let Some(room) = rooms.remove(name) else {
                return false;
            };
            let _ = self
                .shared
                .room_changes
                .send(RoomChange::Closed(name.to_owned()));
            room
        };
        room.close();
        tracing::debug!(room = name, "room closed");
        true
    }

    /// A feed of rooms opening and closing from now on.
    pub fn watch_rooms(&self) -> broadcast::Receiver<RoomChange> {
        self.shared.room_changes.subscribe()
    }

    /// Up to `limit` of the newest messages of room `name` below sequence
    /// number `before`, oldest first, from history (the room need not be
    /// open).
    pub async fn history_before(
        &self,
        name: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        self.shared.store.read_before(name, before, limit).await
    }

    /// Up to `limit` messages of room `name` after sequence number `after`,
    /// oldest first, from history (the room need not be open).
    pub async fn history_after(
        &self,
        name: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, StoreError> {
        self.shared
            .store
            .read_from(name, after.saturating_add(1), limit)
            .await
    }

    /// The sequence number of the newest message of room `name` in history,
    /// 0 if none.
    pub fn last_seq(&self, name: &str) -> u64 {
        match self.find_room(name) {
            Some(room) => room.last_seq(),
            None => self.shared.store.last_seq(name),
        }
    }

    /// Claims `name` for a user logging in; it is free again when the claim
    /// is dropped. Fails if another logged-in user holds it.
    pub fn claim_name(&self, name: &str) -> Result<NameClaim, EngineError> {
        self.shared.config.limits.check_name(name)?;
        self.shared.directory.claim(name)
    }

    /// A feed of users coming online and going offline from now on.
    pub fn watch_presence(&self) -> broadcast::Receiver<PresenceChange> {
        self.shared.directory.watch()
    }

    /// Whether a user called `name` is logged in and connected.
    pub fn is_online(&self, name: &str) -> bool {
        self.shared.directory.is_online(name)
    }

    /// Names of the open rooms, sorted.
    pub fn room_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.rooms().keys().cloned().collect();
        names.sort_unstable();
        names
    }
}
