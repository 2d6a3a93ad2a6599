use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::EngineError;

/// The names of users logged in through any protocol, so a name is unique
/// across protocols, and whether each is online right now.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    /// Name to online.
    users: Mutex<HashMap<String, bool>>,
}

impl Directory {
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
        if let Some(entry) = self.directory.users().get_mut(&self.name) {
            *entry = online;
        }
    }
}

impl Drop for NameClaim {
    fn drop(&mut self) {
        self.directory.users().remove(&self.name);
    }
}
