use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::names::name_key;
use crate::{EngineError, Room};

/// The names of users logged in through any protocol, so a name (and any
/// name that looks like it) is held by one user across protocols; whether
/// each is online; the rooms each is in, which hear its presence; and the
/// registered names, which only their accounts may use.
///
/// Membership and presence change under this lock, then the room's, in
/// that order, so a room never hears a join and a presence change out of
/// order.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    state: Mutex<DirectoryState>,
}

#[derive(Debug, Default)]
pub(crate) struct DirectoryState {
    users: HashMap<String, User>,
    /// [`name_key`] of each name in `users`, to that name.
    keys: HashMap<String, String>,
    /// [`name_key`] of each registered name, to that name.
    registered: HashMap<String, String>,
}

#[derive(Debug)]
struct User {
    key: String,
    online: bool,
    rooms: Vec<Weak<Room>>,
}

impl DirectoryState {
    pub(crate) fn is_online(&self, name: &str) -> bool {
        self.users.get(name).is_some_and(|user| user.online)
    }

    /// The logged-in user whose name looks like `name`, if any.
    pub(crate) fn holder_of(&self, name: &str) -> Option<&str> {
        self.keys.get(&name_key(name)).map(String::as_str)
    }

    /// The registered name that looks like `name`, if any.
    pub(crate) fn registered_as(&self, name: &str) -> Option<&str> {
        self.registered.get(&name_key(name)).map(String::as_str)
    }

    /// Fails if `name` is registered or held by a logged-in user.
    pub(crate) fn check_free(&self, name: &str) -> Result<(), EngineError> {
        if let Some(account) = self.registered_as(name) {
            return Err(EngineError::NameRegistered {
                name: name.to_owned(),
                account: account.to_owned(),
            });
        }
        match self.holder_of(name) {
            Some(holder) => Err(EngineError::NameTaken {
                name: name.to_owned(),
                holder: holder.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// `name` (if logged in) is now in `room`.
    pub(crate) fn entered(&mut self, name: &str, room: &Arc<Room>) {
        if let Some(user) = self.users.get_mut(name) {
            user.rooms.retain(|r| r.strong_count() > 0);
            user.rooms.push(Arc::downgrade(room));
        }
    }

    /// `name` (if logged in) is no longer in `room`.
    pub(crate) fn left(&mut self, name: &str, room: &Room) {
        if let Some(user) = self.users.get_mut(name) {
            user.rooms
                .retain(|r| r.upgrade().is_some_and(|r| !std::ptr::eq(&*r, room)));
        }
    }
}

impl Directory {
    pub(crate) fn lock(&self) -> MutexGuard<'_, DirectoryState> {
        // Every change is a few inserts or removes: never left half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims `name` for a user without an account (a guest): refused if
    /// it is registered or held.
    pub(crate) fn claim(self: &Arc<Self>, name: &str) -> Result<NameClaim, EngineError> {
        let mut state = self.lock();
        state.check_free(name)?;
        Self::insert_claim(self, &mut state, name)
    }

    /// Claims registered `name` for its account.
    pub(crate) fn claim_registered(self: &Arc<Self>, name: &str) -> Result<NameClaim, EngineError> {
        let mut state = self.lock();
        if let Some(holder) = state.holder_of(name) {
            return Err(EngineError::NameTaken {
                name: name.to_owned(),
                holder: holder.to_owned(),
            });
        }
        Self::insert_claim(self, &mut state, name)
    }

    /// Registers `name`: from now on only its account may claim it.
    /// Refused if it, or a name that looks like it, is registered or held.
    pub(crate) fn register(&self, name: &str) -> Result<(), EngineError> {
        let mut state = self.lock();
        state.check_free(name)?;
        state.registered.insert(name_key(name), name.to_owned());
        Ok(())
    }

    /// `name` is no longer registered.
    pub(crate) fn unregister(&self, name: &str) {
        self.lock().registered.remove(&name_key(name));
    }

    fn insert_claim(
        self: &Arc<Self>,
        state: &mut DirectoryState,
        name: &str,
    ) -> Result<NameClaim, EngineError> {
        let key = name_key(name);
        state.keys.insert(key.clone(), name.to_owned());
        state.users.insert(
            name.to_owned(),
            User {
                key,
                online: false,
                rooms: Vec::new(),
            },
        );
        Ok(NameClaim {
            directory: Arc::clone(self),
            name: name.to_owned(),
        })
    }

    pub(crate) fn is_online(&self, name: &str) -> bool {
        self.lock().is_online(name)
    }

    /// Sets `name`'s presence; the rooms it is in hear of a change.
    fn set_online(&self, name: &str, online: bool) {
        let state = &mut *self.lock();
        let Some(user) = state.users.get_mut(name) else {
            return;
        };
        if user.online == online {
            return;
        }
        user.online = online;
        for room in user.rooms.iter().filter_map(Weak::upgrade) {
            room.member_presence(name, online);
        }
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
        self.directory.set_online(&self.name, online);
    }
}

impl Drop for NameClaim {
    fn drop(&mut self) {
        self.directory.set_online(&self.name, false);
        let mut state = self.directory.lock();
        if let Some(user) = state.users.remove(&self.name) {
            state.keys.remove(&user.key);
        }
    }
}
