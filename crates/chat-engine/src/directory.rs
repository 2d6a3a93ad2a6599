use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::broadcast;

use crate::EngineError;

/// How many presence changes a slow watcher may fall behind.
const PRESENCE_BACKLOG: usize = 1024;

/// A user came online or went offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChange {
    pub name: String,
    pub online: bool,
}

/// The names of users logged in through any protocol, so a name is unique
/// across protocols, and whether each is online right now.
#[derive(Debug)]
pub(crate) struct Directory {
    /// Name to online.
    users: Mutex<HashMap<String, bool>>,
    changes: broadcast::Sender<PresenceChange>,
}

impl Default for Directory {
    fn default() -> Self {
        Directory {
            users: Mutex::default(),
            changes: broadcast::channel(PRESENCE_BACKLOG).0,
        }
    }
}

impl Directory {
    pub(crate) fn watch(&self) -> broadcast::Receiver<PresenceChange> {
        self.changes.subscribe()
    }

    /// Sets `name`'s presence, telling watchers if it changed. Under the
    /// map's lock, so watchers hear changes in the order they happened.
    fn set(&self, users: &mut HashMap<String, bool>, name: &str, online: bool) {
        let Some(entry) = users.get_mut(name) else {
            return;
        };
        if *entry != online {
            *entry = online;
            // No watcher is fine.
            let _ = self.changes.send(PresenceChange {
                name: name.to_owned(),
                online,
            });
        }
    }

    pub(crate) fn claim(self: &Arc<Self>, name: &str) -> Result<NameClaim, EngineError> {
        let mut users = self.users();
        if users.contains_key(name) {
            return Err(EngineError::NameTaken(name.to_owned()));
        }
        users.insert(name.to_owned(), false);
        Ok(NameClaim {
            directory: Arc::clone(self),
            name: name.to_owned(),
        })
    }

    pub(crate) fn is_online(&self, name: &str) -> bool {
        self.users().get(name).copied().unwrap_or(false)
    }

    fn users(&self) -> MutexGuard<'_, HashMap<String, bool>> {
        // Single inserts and removes: never left half-done.
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A user's hold on its name; the name is free again once this is dropped.
#[derive(Debug)]
pub struct NameClaim {
    directory: Arc<Directory>,
    name: String,
}

impl NameClaim {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Marks the user online (connected) or offline (still holding its
    /// name, e.g. during a grace period after its connection dropped).
    pub fn set_online(&self, online: bool) {
        let mut users = self.directory.users();
        self.directory.set(&mut users, &self.name, online);
    }
}

impl Drop for NameClaim {
    fn drop(&mut self) {
        let mut users = self.directory.users();
        self.directory.set(&mut users, &self.name, false);
        users.remove(&self.name);
    }
}
