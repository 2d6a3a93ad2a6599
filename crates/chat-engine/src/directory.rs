//! Who is logged in under which name (and names that look like it), who is
//! online here and on other nodes, and which names are registered.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::names::name_key;
use crate::relay::{News, Relay};
use crate::{EngineError, Room};

/// The names of users logged in through any protocol, so a name (and any
/// name that looks like it) is held by one user across protocols; whether
/// each is online; the rooms each is in, which hear its presence; and the
/// registered names, which only their accounts may use.
///
/// In a cluster, it also knows who is online on the other nodes, and
/// tells them when its own users come and go.
///
/// Membership and presence change under this lock, then the room's, in
/// that order, so a room never hears a join and a presence change out of
/// order.
pub(crate) struct Directory {
    state: Mutex<DirectoryState>,
    relay: Arc<dyn Relay>,
}

#[derive(Debug, Default)]
pub(crate) struct DirectoryState {
    users: HashMap<String, User>,
    /// [`name_key`] of each name in `users`, to that name.
    keys: HashMap<String, String>,
    /// [`name_key`] of each registered name, to that name.
    registered: HashMap<String, String>,
    /// The registered names as spelt: whether a name is an account's is
    /// asked for every member of a room listed, and a key costs a Unicode
    /// normalisation and a confusables pass.
    registered_spellings: HashSet<String>,
    /// Users online on other nodes of a cluster.
    remote: HashSet<String>,
    /// [`name_key`] of each name in `remote`, to that name.
    remote_keys: HashMap<String, String>,
}

/// A user logged in on this node, as the other nodes of a cluster learn
/// of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserHere {
    pub name: String,
    pub online: bool,
    /// The rooms it is in.
    pub rooms: Vec<String>,
}

#[derive(Debug)]
struct User {
    key: String,
    online: bool,
    rooms: Vec<Weak<Room>>,
}

impl DirectoryState {
    /// Whether `name` is online here or on another node.
    pub(crate) fn is_online(&self, name: &str) -> bool {
        self.users.get(name).is_some_and(|user| user.online) || self.remote.contains(name)
    }

    /// The logged-in user whose name looks like `name`, here or (online)
    /// on another node, if any.
    pub(crate) fn holder_of(&self, name: &str) -> Option<&str> {
        let key = name_key(name);
        self.keys
            .get(&key)
            .or_else(|| self.remote_keys.get(&key))
            .map(String::as_str)
    }

    /// Records that `name` is online on another node, or no longer on
    /// any; returns whether that changed whether it is online at all.
    pub(crate) fn set_remote(&mut self, name: &str, online: bool) -> bool {
        let was = self.is_online(name);
        if online {
            self.remote.insert(name.to_owned());
            self.remote_keys.insert(name_key(name), name.to_owned());
        } else if self.remote.remove(name) {
            self.remote_keys.remove(&name_key(name));
        }
        was != self.is_online(name)
    }

    /// How many of this node's users are online: `(guests, accounts)`.
    pub(crate) fn online_here(&self) -> (usize, usize) {
        let online = self.users.values().filter(|user| user.online);
        let accounts = online
            .clone()
            .filter(|user| self.registered.contains_key(&user.key))
            .count();
        (online.count() - accounts, accounts)
    }

    /// This node's users.
    pub(crate) fn users_here(&self) -> Vec<UserHere> {
        self.users
            .iter()
            .map(|(name, user)| UserHere {
                name: name.clone(),
                online: user.online,
                rooms: user
                    .rooms
                    .iter()
                    .filter_map(Weak::upgrade)
                    .map(|room| room.name().to_owned())
                    .collect(),
            })
            .collect()
    }

    /// Whether `name` is an account's, as registered.
    pub(crate) fn is_registered(&self, name: &str) -> bool {
        self.registered_spellings.contains(name)
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

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("state", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl Directory {
    pub(crate) fn new(relay: Arc<dyn Relay>) -> Self {
        Directory {
            state: Mutex::default(),
            relay,
        }
    }

    /// The other nodes, if any.
    pub(crate) fn relay(&self) -> &dyn Relay {
        self.relay.as_ref()
    }

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

    /// Claims registered `name` for its account. (Users of other nodes
    /// online under it are the account's own sessions there.)
    pub(crate) fn claim_registered(self: &Arc<Self>, name: &str) -> Result<NameClaim, EngineError> {
        let mut state = self.lock();
        if let Some(holder) = state.keys.get(&name_key(name)) {
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
        state.registered_spellings.insert(name.to_owned());
        Ok(())
    }

    /// `name` is no longer registered.
    pub(crate) fn unregister(&self, name: &str) {
        let mut state = self.lock();
        if let Some(spelt) = state.registered.remove(&name_key(name)) {
            state.registered_spellings.remove(&spelt);
        }
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
            held_across_nodes: false,
        })
    }

    pub(crate) fn is_online(&self, name: &str) -> bool {
        self.lock().is_online(name)
    }

    /// Sets `name`'s presence here; the other nodes hear of a change, and
    /// the rooms it is in when it is online nowhere else.
    fn set_online(&self, name: &str, online: bool) {
        let state = &mut *self.lock();
        let was = state.is_online(name);
        let Some(user) = state.users.get_mut(name) else {
            return;
        };
        if user.online == online {
            return;
        }
        user.online = online;
        self.relay.announce(News::Presence {
            name: name.to_owned(),
            online,
        });
        if was == state.is_online(name) {
            return;
        }
        let user = &state.users[name];
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
    /// Held against the other nodes' users too, and so let go there.
    held_across_nodes: bool,
}

impl NameClaim {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Holds the name against the other nodes' users too (through the
    /// relay), until the claim is dropped.
    pub(crate) async fn hold_across_nodes(mut self) -> Result<Self, EngineError> {
        let relay = Arc::clone(&self.directory.relay);
        relay.hold_name(&self.name).await?;
        self.held_across_nodes = true;
        Ok(self)
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
        if self.held_across_nodes {
            self.directory.relay.release_name(&self.name);
        }
    }
}
