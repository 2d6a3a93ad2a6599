//! Where each user has read each of its rooms to, and what each room tells
//! it about: an account's kept by the store (and read back at start), a
//! guest's for as long as it is logged in.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chat_engine::{NotifyLevel, ReadMarker, Room};

/// Rooms with more members than this tell of mentions only, unless the
/// user chose otherwise; smaller rooms and direct conversations of
/// everything.
pub const QUIET_ABOVE_MEMBERS: usize = 20;

/// A place in a room's order: an entry's number and the messages up to it.
pub type Place = (u64, u64);

/// What a user has not read in a room, and what the room tells it of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomAttention {
    /// The entry the user has read to.
    pub read_seq: u64,
    pub unread: u64,
    pub mentions: u64,
    pub notify: NotifyLevel,
}

#[derive(Default)]
pub struct Attention {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By user and room.
    markers: HashMap<(String, String), Place>,
    levels: HashMap<(String, String), NotifyLevel>,
}

impl Attention {
    /// What the store kept of the accounts.
    pub fn restore(&self, markers: Vec<ReadMarker>, levels: Vec<(String, String, NotifyLevel)>) {
        let mut state = self.state();
        for marker in markers {
            let place = (marker.seq, marker.ordinal);
            state.markers.insert((marker.account, marker.room), place);
        }
        for (account, room, level) in levels {
            state.levels.insert((account, room), level);
        }
    }

    /// Moves `user`'s marker in `room` to `place`, if that is further on;
    /// whether it moved.
    pub fn mark(&self, user: &str, room: &str, place: Place) -> bool {
        let mut state = self.state();
        let marker = state.markers.entry(key(user, room));
        match marker {
            std::collections::hash_map::Entry::Occupied(mut kept) if kept.get().0 < place.0 => {
                kept.insert(place);
                true
            }
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(new) => {
                new.insert(place);
                true
            }
        }
    }

    pub fn set_level(&self, user: &str, room: &str, level: NotifyLevel) {
        self.state().levels.insert(key(user, room), level);
    }

    /// `user`'s unread messages and mentions in `room`, and its level
    /// there. A room the user has no marker in yet is read to now.
    pub fn of(&self, user: &str, room: &Room) -> RoomAttention {
        let mut state = self.state();
        let now = (room.last_seq(), room.message_count());
        let (read_seq, read) = *state.markers.entry(key(user, room.name())).or_insert(now);
        let (unread, mentions) = room.unread(user, read);
        let notify = state.levels.get(&key(user, room.name())).copied();
        let quiet = room.member_count() > QUIET_ABOVE_MEMBERS && !room.access().direct;
        RoomAttention {
            read_seq,
            unread,
            mentions,
            notify: notify.unwrap_or(if quiet {
                NotifyLevel::Mentions
            } else {
                NotifyLevel::All
            }),
        }
    }

    /// Forgets what `user` had of `room`, which it left.
    pub fn leave(&self, user: &str, room: &str) {
        let mut state = self.state();
        let key = key(user, room);
        state.markers.remove(&key);
        state.levels.remove(&key);
    }

    /// Forgets everyone's of `room`, which was deleted.
    pub fn drop_room(&self, room: &str) {
        let mut state = self.state();
        state.markers.retain(|(_, of), _| of != room);
        state.levels.retain(|(_, of), _| of != room);
    }

    /// Forgets what `user` (a guest whose session ended) had.
    pub fn forget(&self, user: &str) {
        let mut state = self.state();
        state.markers.retain(|(name, _), _| name != user);
        state.levels.retain(|(name, _), _| name != user);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key(user: &str, room: &str) -> (String, String) {
    (user.to_owned(), room.to_owned())
}
