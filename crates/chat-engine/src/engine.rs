use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{HistoryStore, Limits, Room};

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
    rooms: Mutex<HashMap<String, Arc<Room>>>,
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
    pub fn new(config: EngineConfig, store: Arc<dyn HistoryStore>) -> Self {
        Engine {
            shared: Arc::new(Shared {
                config,
                store,
                rooms: Mutex::default(),
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
        ));
        rooms.insert(name.to_owned(), Arc::clone(&room));
        tracing::debug!(room = name, "room opened");
        room
    }

    /// The open room called `name`, if there is one.
    pub fn find_room(&self, name: &str) -> Option<Arc<Room>> {
        self.shared.rooms().get(name).cloned()
    }

    /// Closes the room called `name` and forgets it; its subscribers finish
    /// what was posted and are then told it closed. Its history stays in the
    /// store. Returns whether the room was open.
    pub fn close_room(&self, name: &str) -> bool {
        let Some(room) = self.shared.rooms().remove(name) else {
            return false;
        };
        room.close();
        tracing::debug!(room = name, "room closed");
        true
    }

    /// Names of the open rooms, sorted.
    pub fn room_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.rooms().keys().cloned().collect();
        names.sort_unstable();
        names
    }
}
